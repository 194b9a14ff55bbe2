"""Write TFLite model metadata (image-input normalisation) with plain flatbuffers.

MediaPipe Tasks reads a float image input's normalisation from the model's
``TFLITE_METADATA`` buffer (a ``ModelMetadata`` flatbuffer, identifier ``M001``).
mediapipe 1.2.2's metadata writers do not import, but it still ships the generated
flatbuffers schema modules, which are all that is needed here. Weight buffers are
re-packed 16-byte aligned so TFLite can map them without copying.
"""

from __future__ import annotations

import flatbuffers
import numpy as np

METADATA_KEY = "TFLITE_METADATA"
_MODEL_ID = b"TFL3"
_METADATA_ID = b"M001"
_ALIGN = 16


def _schemas():
    from mediapipe.tasks.metadata import metadata_schema_py_generated as meta
    from mediapipe.tasks.metadata import schema_py_generated as tfl

    return tfl, meta


def image_metadata(name: str, mean: float, std: float, output_names: list[str]) -> bytes:
    """A ``ModelMetadata`` flatbuffer for one RGB image input normalised as ``(x - mean) / std``."""
    _, m = _schemas()
    content = m.ContentT()
    content.contentPropertiesType = m.ContentProperties.ImageProperties
    props = m.ImagePropertiesT()
    props.colorSpace = m.ColorSpaceType.RGB
    content.contentProperties = props
    norm = m.NormalizationOptionsT()
    norm.mean, norm.std = [float(mean)], [float(std)]
    unit = m.ProcessUnitT()
    unit.optionsType = m.ProcessUnitOptions.NormalizationOptions
    unit.options = norm
    stats = m.StatsT()
    stats.min, stats.max = [(0.0 - mean) / std], [(255.0 - mean) / std]
    image = m.TensorMetadataT()
    image.name, image.description = "image", "RGB image, normalised as (pixel - mean) / std"
    image.content, image.processUnits, image.stats = content, [unit], stats
    outputs = []
    for out_name in output_names:
        t = m.TensorMetadataT()
        t.name = out_name
        outputs.append(t)
    sub = m.SubGraphMetadataT()
    sub.inputTensorMetadata, sub.outputTensorMetadata = [image], outputs
    model = m.ModelMetadataT()
    model.name, model.minParserVersion, model.license = name, "1.0.0", "Apache-2.0"
    model.subgraphMetadata = [sub]
    b = flatbuffers.Builder(1024)
    b.Finish(model.Pack(b), file_identifier=_METADATA_ID)
    return bytes(b.Output())


def read_normalization(model_bytes: bytes) -> tuple[float, float] | None:
    """``(mean, std)`` of the first input as recorded in the model's metadata, or ``None``."""
    tfl, m = _schemas()
    model = tfl.Model.GetRootAs(model_bytes, 0)
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        if entry.Name().decode() != METADATA_KEY:
            continue
        raw = model.Buffers(entry.Buffer()).DataAsNumpy().tobytes()
        meta = m.ModelMetadataT.InitFromPackedBuf(raw, 0)
        units = meta.subgraphMetadata[0].inputTensorMetadata[0].processUnits or []
        for u in units:
            if u.optionsType == m.ProcessUnitOptions.NormalizationOptions:
                return float(u.options.mean[0]), float(u.options.std[0])
    return None


def with_image_metadata(model_bytes: bytes, *, name: str, mean: float, std: float) -> bytes:
    """Return ``model_bytes`` (a ``.tflite``) with its ``TFLITE_METADATA`` set (replaced if present)."""
    tfl, _ = _schemas()
    model = tfl.ModelT.InitFromPackedBuf(bytearray(model_bytes), 0)
    graph = model.subgraphs[0]
    outputs = [graph.tensors[i].name.decode() for i in graph.outputs]
    blob = image_metadata(name, mean, std, outputs)
    buf = tfl.BufferT()
    buf.data = np.frombuffer(blob, dtype=np.uint8)
    entries = [e for e in (model.metadata or []) if _name(e.name) == METADATA_KEY]
    if entries:
        model.buffers[entries[0].buffer] = buf
    else:
        model.buffers.append(buf)
        entry = tfl.MetadataT()
        entry.name, entry.buffer = METADATA_KEY, len(model.buffers) - 1
        model.metadata = [*(model.metadata or []), entry]
    model.buffers = [_AlignedBuffer.wrap(tfl, b) for b in model.buffers]
    builder = flatbuffers.Builder(len(model_bytes) + 4096)
    builder.Finish(model.Pack(builder), file_identifier=_MODEL_ID)
    return bytes(builder.Output())


def _name(v: bytes | str | None) -> str:
    return v.decode() if isinstance(v, bytes) else (v or "")


class _AlignedBuffer:
    """A ``BufferT`` stand-in whose data vector is written 16-byte aligned."""

    def __init__(self, tfl, buf) -> None:
        self._tfl, self.data, self.offset, self.size = tfl, buf.data, buf.offset, buf.size

    @classmethod
    def wrap(cls, tfl, buf) -> _AlignedBuffer:
        return cls(tfl, buf)

    def Pack(self, builder: flatbuffers.Builder) -> int:  # flatbuffers object API name
        tfl = self._tfl
        data = None
        if self.data is not None and len(self.data) > 0:
            payload = np.asarray(self.data, dtype=np.uint8).tobytes()
            builder.StartVector(1, len(payload), _ALIGN)
            builder.head -= len(payload)
            builder.Bytes[builder.head : builder.head + len(payload)] = payload
            builder.vectorNumElems = len(payload)
            data = builder.EndVector()
        tfl.BufferStart(builder)
        if data is not None:
            tfl.BufferAddData(builder, data)
        if self.offset:
            tfl.BufferAddOffset(builder, self.offset)
        if self.size:
            tfl.BufferAddSize(builder, self.size)
        return tfl.BufferEnd(builder)
