"""What every demo's plot needs: pyplot when matplotlib is there, and a save."""
import os


def pyplot():
    """``matplotlib.pyplot`` on the file-only Agg backend, or None (after saying
    how to get it) when matplotlib is not installed: the demos run without it."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(install chainrule[viz] to save the plots)")
        return None
    return plt


def save_figure(fig, out_dir, filename, dpi=80):
    """Lay out, write ``out_dir/filename``, close the figure; returns the path."""
    import matplotlib.pyplot as plt
    fig.tight_layout()
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, filename)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
