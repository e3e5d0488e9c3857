"""Hypothesis strategies shared by the graded tests: bounded, NaN-free float tensors; no constants drawn from the
grader's own source; and failing examples printed exactly, as code a student can paste."""

import numpy as np
import torch
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

FLOAT_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def float_dtypes() -> st.SearchStrategy[torch.dtype]:
    """float32 or float64."""
    return st.sampled_from(list(FLOAT_DTYPES.values()))


def shapes(min_dims: int = 0, max_dims: int = 3, max_side: int = 5) -> st.SearchStrategy[tuple[int, ...]]:
    """Tensor shapes of ``min_dims`` to ``max_dims`` dimensions, each of size 1 to ``max_side``."""
    return array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=max_side)


@st.composite
def float_tensors(
    draw: st.DrawFn,
    shape: tuple[int, ...] | st.SearchStrategy[tuple[int, ...]] | None = None,
    dtype: torch.dtype | None = None,
    bound: float = 20.0,
) -> torch.Tensor:
    """A float32 or float64 tensor of finite values in [-bound, bound].

    Values are drawn as float32 (so they are exact in both dtypes) and include 0 and the bounds.
    """
    if shape is None:
        shape = shapes()
    if isinstance(shape, st.SearchStrategy):
        shape = draw(shape)
    if dtype is None:
        dtype = draw(float_dtypes())
    elements = st.floats(-bound, bound, allow_nan=False, allow_infinity=False, width=32)
    values = draw(arrays(np.float32, shape, elements=elements))
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
