"""Big jobs on a Ray cluster (extra ``[ray]``): image collections under a folder or URL prefix (``s3://``,
``gs://``, any fsspec protocol) coded by actors that each load their codec once.

``Encoder`` and ``Decoder`` are callable classes for ``ray.data.Dataset.map_batches`` (a batch is a dict of
columns: ``bytes`` -> ``aec``, and back), so a Ray Data pipeline codes with them directly. ``encode_prefix`` runs
a whole prefix on Ray's core API: the plan of a folder run (clashes refused before anything is written, existing
outputs skipped), then chunks of files on a pool of actors. Each actor writes its outputs itself, atomically or as
one object, so a chunk whose worker died is redone (Ray retries it) with nothing missing or partial."""
from __future__ import annotations

import uuid

import numpy as np

from .folders import FolderReport, code_url, plan_urls


class Encoder:
    """``batch["bytes"]`` (encoded images) -> ``batch["aec"]`` (their .aec bytes, in order): the same bytes as
    ``aecodec.encode`` writes for each image alone. Settings are checked when the actor starts."""

    def __init__(self, codec: str | None = None, quality: float | None = None, device: str = "cpu",
                 weights: str | None = None, batch_size: int = 1):
        from . import variants
        from .api import load

        variants.encode_settings(codec, quality, 0, weights)
        self.codec, self.quality, self.device, self.weights = codec, quality, device, weights
        self.batch_size = batch_size
        load(codec, device, weights)  # once per actor

    def __call__(self, batch: dict) -> dict:
        from .api import encode_many

        datas = encode_many(list(batch["bytes"]), self.codec, self.quality, self.device,
                            batch_size=self.batch_size, weights=self.weights)
        return {**batch, "aec": np.array(datas, dtype=object)}


class Decoder:
    """``batch["aec"]`` -> ``batch["png"]``: each file decoded and written as PNG bytes."""

    def __init__(self, device: str = "cpu", weights: str | None = None, batch_size: int = 1):
        self.device, self.weights, self.batch_size = device, weights, batch_size

    def __call__(self, batch: dict) -> dict:
        from .api import decode_many
        from .files import image_bytes

        images = decode_many(list(batch["aec"]), self.device, self.batch_size, self.weights)
        return {**batch, "png": np.array([image_bytes(im, None) for im in images], dtype=object)}


class _Coder:
    """A pool actor: codes chunks of (input URL, output path) pairs and writes each output."""

    def __init__(self, dst: str, **settings):
        import fsspec

        self.encoder = Encoder(**settings)
        self.fs = fsspec.core.url_to_fs(dst)[0]

    def _convert(self, data: bytes, name: str, out: str) -> bytes:
        from .files import check_image

        check_image(data, name=name)
        return self.encoder({"bytes": [data]})["aec"][0]

    def run(self, chunk: list[tuple[str, str]]) -> list[tuple[str, str | None]]:
        """(input, why it failed or None) for each pair of the chunk."""
        return [(name, code_url(self.fs, name, out, self._convert)) for name, out in chunk]


def encode_prefix(src: str, dst: str, codec: str | None = None, quality: float | None = None,
                  address: str | None = None, actors: int = 2, chunk: int = 4, force: bool = False,
                  weights: str | None = None) -> FolderReport:
    """Encode every image under ``src`` to .aec files under ``dst`` with the same relative names, on the Ray
    cluster at ``address`` (None: the one this process is connected to, or a local one) with ``actors`` coders.
    The outputs are byte-identical to ``aecodec.encode_folder``'s; a rerun skips what exists."""
    import ray
    from ray.util import ActorPool

    from .datasets import IMAGE_SUFFIXES
    from .variants import encode_settings

    encode_settings(codec, quality, 0, weights)  # refused here, before any actor starts
    plan = plan_urls(str(src), str(dst), IMAGE_SUFFIXES, ".aec", force)
    if plan.report.clashes or not plan.tasks:
        return plan.report
    if not ray.is_initialized():
        ray.init(address=address, ignore_reinit_error=True, include_dashboard=False, log_to_driver=False)
    coder = ray.remote(max_restarts=3, max_task_retries=3)(_Coder)
    run_id = uuid.uuid4().hex[:8]  # named actors, so that an operator (or a test) can find this run's coders
    pool = ActorPool([coder.options(name=f"aecodec-coder-{run_id}-{i}").remote(
        str(dst), codec=codec, quality=quality, weights=weights) for i in range(max(1, actors))])
    chunks = [plan.tasks[i:i + chunk] for i in range(0, len(plan.tasks), chunk)]
    for results in pool.map_unordered(lambda actor, c: actor.run.remote(c), chunks):
        for name, error in results:
            if error is None:
                plan.report.done.append(name)
            else:
                plan.report.failed[name] = error
    return plan.report
