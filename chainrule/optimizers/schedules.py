"""Learning-rate schedules: functions of the optimizer's step, as in Keras 3."""


class LearningRateSchedule:
    """Base class: ``schedule(step)`` returns the learning rate at ``step``."""

    def __call__(self, step):
        raise NotImplementedError

    def get_config(self):
        raise NotImplementedError

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def serialize(schedule):
    """``{"class_name": ..., "config": ...}`` of a schedule."""
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


def deserialize(config):
    """The schedule that ``serialize`` described."""
    classes = {c.__name__: c for c in LearningRateSchedule.__subclasses__()}
    name = config.get("class_name")
    if name not in classes:
        raise ValueError(f"Unknown learning rate schedule: {name!r}. Known: {sorted(classes)}")
    return classes[name].from_config(config["config"])
