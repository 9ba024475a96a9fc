"""``chainrule demo backprop``: the seeds' walkthrough of J = 3(a·b + c), by the chain rule.

The lecture draws the computation graph

    a ─┐
       ├─ u = a·b ─┐
    b ─┘           ├─ v = u + c ── J = 3v
    c ─────────────┘

and works backwards: dJ/dv = 3, dJ/du = dJ/dv · ∂v/∂u = 3, dJ/dc = 3,
dJ/da = dJ/du · ∂u/∂a = 3b = 9, dJ/db = 3a = 6 (for a=2, b=3, c=4).
``cr.explain`` prints exactly these steps from chainrule's own recorded
graph, then ``J.backward()`` gives the same numbers the usual way.

The second part is the seeds' single sigmoid neuron with cross-entropy
(logistic regression for one example): the hand derivation ends in
dL/dz = φ - y and dL/dw = (φ - y)·x, and the engine agrees.
"""
NAME = "backprop"
SUMMARY = "the chain rule step by step: J = 3(a·b + c), then one sigmoid neuron's loss"
DATA = None


def run(quick=False, seed=0, out_dir=".", data_path=None):
    """Print both walkthroughs; returns the gradients each way (``quick`` changes nothing:
    the demo is instant). ``seed``, ``out_dir`` and ``data_path`` are unused (no data, no plot).
    """
    import numpy as np

    import chainrule as cr

    def scalar(value):
        return cr.tensor(value, dtype="float64", requires_grad=True)

    print("Part 1: J = 3(a·b + c) with a = 2, b = 3, c = 4 (the seeds' computation graph)")
    print()
    a, b, c = scalar(2.0), scalar(3.0), scalar(4.0)
    u = a * b
    v = u + c
    J = 3 * v
    by_hand = cr.explain(J, names={"a": a, "b": b, "c": c, "u": u, "v": v, "J": J})

    J.backward()                     # the usual way: the same graph, the same vjps
    by_backward = {"a": float(a.grad), "b": float(b.grad), "c": float(c.grad)}
    print()
    print("The same with J.backward():  " +
          ", ".join(f"{k}.grad = {g:g}" for k, g in by_backward.items()))
    print("and with cr.grad:            " + ", ".join(
        f"dJ/d{k} = {float(g):g}" for k, g in zip(
            "abc", cr.grad(lambda a, b, c: 3 * (a * b + c), argnums=(0, 1, 2))(
                scalar(2.0), scalar(3.0), scalar(4.0)))))
    agree = all(np.isclose(by_hand[k], by_backward[k]) for k in "abc")
    print(f"explain and backward agree: {agree}")

    print()
    print("Part 2: one sigmoid neuron with cross-entropy, L = -(y·log φ + (1 - y)·log(1 - φ)),")
    print("        φ = σ(z), z = w·x + b, for x = 1.5, w = 0.8, b = -0.3, y = 1")
    print()
    x, y = cr.tensor(1.5, dtype="float64"), cr.tensor(1.0, dtype="float64")
    w, bias = scalar(0.8), scalar(-0.3)
    z = w * x + bias
    phi = cr.sigmoid(z)
    L = -(y * cr.log(phi) + (1 - y) * cr.log(1 - phi))
    neuron = cr.explain(L, names={"w": w, "b": bias, "x": x, "y": y, "z": z, "φ": phi, "L": L})
    p = float(phi)
    closed_form = {"z": p - 1.0, "w": (p - 1.0) * 1.5, "b": p - 1.0}
    print()
    print("The seeds' hand derivation: dL/dz = φ - y, dL/dw = (φ - y)·x, dL/db = φ - y")
    print(f"  φ = {p:.6f}: dL/dw = ({p:.6f} - 1)·1.5 = {closed_form['w']:.6f}, "
          f"dL/db = {closed_form['b']:.6f}")
    neuron_agree = (np.isclose(neuron["w"], closed_form["w"])
                    and np.isclose(neuron["b"], closed_form["b"]))
    print(f"the engine agrees with the hand derivation: {neuron_agree}")
    return {"explain": by_hand, "backward": by_backward, "agree": bool(agree),
            "neuron": neuron, "neuron_closed_form": closed_form,
            "neuron_agree": bool(neuron_agree), "pngs": []}
