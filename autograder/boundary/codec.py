"""Values that cross the process boundary, as plain data only.

Between the grader and the worker that runs student code travel only ``None``, ``bool``,
``int``, ``float``, ``str``, ``bytes``, lists, tuples, string-keyed dicts, and tensors
encoded as ``{"__tensor__": (dtype name, shape, raw bytes)}``. execnet's serializer
carries these and nothing else (it never pickles), and ``decode`` rebuilds a tensor as a
fresh, plain ``torch.Tensor`` from its bytes, so no object of the student's (a tensor
subclass, an object with a custom ``__eq__``) can reach the grader.
"""

import numpy as np
import torch

TENSOR = "__tensor__"
DTYPES = {
    "float32": torch.float32,
    "float64": torch.float64,
    "int64": torch.int64,
    "int32": torch.int32,
    "bool": torch.bool,
}
DTYPE_NAMES = {dtype: name for name, dtype in DTYPES.items()}
MAX_DEPTH = 20


class CodecError(TypeError):
    """A value that cannot cross the process boundary; the message says which and why."""


def encode(value: object, depth: int = 0) -> object:
    """``value`` as plain data, tensors turned into (dtype, shape, bytes) triples."""
    if depth > MAX_DEPTH:
        raise CodecError("the value is nested too deeply")
    if value is None or type(value) in (bool, int, float, str, bytes):
        return value
    if isinstance(value, torch.Tensor):
        dtype_name = DTYPE_NAMES.get(value.dtype)
        if dtype_name is None:
            raise CodecError(f"tensors of dtype {value.dtype} cannot be graded")
        array = value.detach().cpu().contiguous().numpy()
        return {TENSOR: (dtype_name, list(array.shape), array.tobytes())}
    if isinstance(value, np.generic) and value.dtype.kind in "biuf":
        return encode(value.item(), depth + 1)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, (list, tuple)):
        items = [encode(item, depth + 1) for item in value]
        return tuple(items) if isinstance(value, tuple) else items
    if isinstance(value, dict) and all(type(key) is str for key in value):
        return {key: encode(item, depth + 1) for key, item in value.items()}
    raise CodecError(f"a {type(value).__name__} cannot be sent to the grader")


def decode(value: object, depth: int = 0) -> object:
    """The inverse of ``encode``, checking every type, so that malformed data fails here."""
    if depth > MAX_DEPTH:
        raise CodecError("the value is nested too deeply")
    if value is None or type(value) in (bool, int, float, str, bytes):
        return value
    if type(value) is list:
        return [decode(item, depth + 1) for item in value]
    if type(value) is tuple:
        return tuple(decode(item, depth + 1) for item in value)
    if type(value) is dict:
        if set(value) == {TENSOR}:
            return decode_tensor(value[TENSOR])
        if all(type(key) is str for key in value):
            return {key: decode(item, depth + 1) for key, item in value.items()}
    raise CodecError(f"unexpected data of type {type(value).__name__}")


def decode_tensor(triple: object) -> torch.Tensor:
    """A new plain tensor from ``(dtype name, shape, bytes)``."""
    if type(triple) is not tuple or len(triple) != 3:
        raise CodecError("a tensor must be sent as (dtype, shape, bytes)")
    dtype_name, shape, data = triple
    if dtype_name not in DTYPES or type(data) is not bytes or type(shape) is not list:
        raise CodecError("malformed tensor data")
    if not all(type(size) is int and size >= 0 for size in shape):
        raise CodecError("malformed tensor shape")
    dtype = DTYPES[dtype_name]
    numel = 1
    for size in shape:
        numel *= size
    if numel * torch.empty((), dtype=dtype).element_size() != len(data):
        raise CodecError("tensor data does not match its shape")
    if numel == 0:
        return torch.empty(shape, dtype=dtype)
    return torch.frombuffer(bytearray(data), dtype=dtype).reshape(shape)
