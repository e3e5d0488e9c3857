"""Hypothesis strategies shared by the graded tests: bounded, NaN-free float tensors; no constants drawn from the
grader's own source; and failing examples printed exactly, as code a student can paste."""

import numpy as np
import torch
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes

FLOAT_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def float_dtypes() -> st.SearchStrategy[torch.dtype]:
    """float32 or float64."""
    return st.sampled_from(list(FLOAT_DTYPES.values()))


def shapes(min_dims: int = 0, max_dims: int = 3, max_side: int = 5) -> st.SearchStrategy[tuple[int, ...]]:
    """Tensor shapes of ``min_dims`` to ``max_dims`` dimensions, each of size 1 to ``max_side``."""
    return array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=max_side)


# Values a formula most often gets wrong, as multiples of the bound (1.0: the bound) or as themselves.
EDGES_OF_BOUND = (1.0, -1.0)
EDGES = (0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0, 1e-3, -1e-3, 1e-7, -1e-7, float(np.finfo(np.float32).tiny),
         float(np.finfo(np.float32).smallest_subnormal))


def values_from_bytes(data: bytes, bound: float) -> np.ndarray:
    """float32 values in [-bound, bound], one from each 4 bytes of ``data`` (a multiple of 4 long).

    The first byte of four picks what kind of number it is: an integer (1 in 8), an edge (``EDGES`` and the bounds,
    1 in 16), a magnitude anywhere from ``bound`` down to 2**-63 of it (1 in 8), or uniform in [-bound, bound] (the
    rest); the others pick which. Bytes of zero are +0.0, and smaller bytes simpler values, so that hypothesis,
    shrinking bytes towards zero, shrinks a failing example towards zeros and small integers.
    """
    kind, high, middle, low = np.frombuffer(data, dtype=np.uint8).reshape(-1, 4).T.astype(np.int64)
    sign = np.where(high & 0x80, -1.0, 1.0)
    which = middle * 256 + low
    integer = (which % (int(bound) + 1)).astype(np.float64)
    edges = np.array([bound * edge for edge in EDGES_OF_BOUND] + list(EDGES))
    edge = sign * edges[which % len(edges)]
    spread = bound * np.exp2(-(middle % 64).astype(np.float64)) * (128 + (low >> 1)) / 255
    uniform = ((high & 0x7F) * 65536 + which) / (2**23 - 1) * bound
    values = np.select([kind < 32, kind < 48, kind < 80], [sign * integer, edge, sign * spread], sign * uniform)
    return np.clip(values.astype(np.float32), -np.float32(bound), np.float32(bound))


@st.composite
def float_tensors(
    draw: st.DrawFn,
    shape: tuple[int, ...] | st.SearchStrategy[tuple[int, ...]] | None = None,
    dtype: torch.dtype | None = None,
    bound: float = 20.0,
) -> torch.Tensor:
    """A float32 or float64 tensor of finite values in [-bound, bound].

    Values are float32 (so they are exact in both dtypes) and include 0, the bounds, tiny and subnormal values. They
    are drawn as one string of bytes (``values_from_bytes``), not one float at a time: hypothesis's float strategy
    costs about a millisecond per tensor, and a grading draws about 500 of them.
    """
    if shape is None:
        shape = shapes()
    if isinstance(shape, st.SearchStrategy):
        shape = draw(shape)
    if dtype is None:
        dtype = draw(float_dtypes())
    size = 4 * int(np.prod(shape, dtype=np.int64))
    values = values_from_bytes(draw(st.binary(min_size=size, max_size=size)), bound).reshape(shape)
    return torch.from_numpy(values).to(dtype)


def draw_no_local_constants() -> None:
    """Keep hypothesis from drawing constants it finds in the source of the "local" modules loaded.

    Hypothesis (6.131 on) now and then draws a constant found in any loaded module outside the
    standard library and site-packages: here, the grader's own. Which of its modules are loaded
    depends on how the grading was started (a warm checker and grade-all's job slots fork from
    ``autograder.slot``, ``grade`` runs a fresh process, an installed copy has none local), so the
    same submission would be checked on other examples, derandomized or not, and could get
    another score. The pool is kept empty; hypothesis's own constants are still drawn.
    """
    from hypothesis.internal.conjecture import providers

    if hasattr(providers, "_get_local_constants"):  # hypothesis before 6.131 draws none
        nothing = type(providers._local_constants)()
        providers._get_local_constants = lambda: nothing


def print_examples_exactly() -> None:
    """Show a tensor in a failing example as code that rebuilds it exactly: ``torch.tensor([0.1, -2.5])``.

    Torch's own repr rounds to four decimals, so an example pasted from the feedback could give
    the right answer where the one that failed did not. float32 values are written in the
    shortest form float32 reads back exactly, float64 values in Python's.
    """
    from hypothesis.vendor import pretty

    def exact(tensor: torch.Tensor, printer: "pretty.RepresentationPrinter", cycle: bool) -> None:
        printer.text(exact_source(tensor))

    pretty.for_type_by_name("torch", "Tensor", exact)


def exact_source(tensor: torch.Tensor) -> str:
    """Code that rebuilds ``tensor``'s values, shape and dtype exactly (``torch.tensor([[1.0, 0.5]], dtype=...)``)."""
    values = tensor.detach().cpu()
    write = (lambda value: str(np.float32(value))) if values.dtype == torch.float32 else repr

    def literal(nested: object) -> str:
        if isinstance(nested, list):
            return "[" + ", ".join(literal(item) for item in nested) + "]"
        text = write(nested)
        return text if any(c in text for c in ".en") else text + ".0"  # a float literal, never an int

    dtype = "" if values.dtype == torch.float32 else f", dtype={values.dtype}"
    return f"torch.tensor({literal(values.tolist())}{dtype})"
