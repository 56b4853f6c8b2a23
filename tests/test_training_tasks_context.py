"""The context model's task: its run caches the frozen latents in the run folder and resumes exactly."""
import torch

from aecodec.codecs.weights_file import read_tensors, weights_metadata
from aecodec.training.loop import train
from tests.test_training_tasks import run_options


def test_context_run_caches_latents_and_resumes_exactly(tmp_path, images):
    def opts(name, **kw):
        return run_options(tmp_path, images, "hyperprior-ctx", name, fresh=True, width=8, hidden=8, steps=4,
                           batch=2, patch=128, crop=192, val_every=2, ckpt_every=2, **kw)
    straight = train(*opts("straight"))
    assert straight.name == "hyperprior_ctx.safetensors"
    interrupted = train(*opts("resumed", time_limit=1e-9))  # stops after one step: no export yet
    assert interrupted.name == "last.pt" and not (tmp_path / "resumed" / "hyperprior_ctx.safetensors").exists()
    latents = tmp_path / "resumed" / "latents.pt"
    cached = latents.stat().st_mtime_ns
    assert torch.load(interrupted, weights_only=False)["step"] == 1
    assert train(*opts("resumed")) == tmp_path / "resumed" / "hyperprior_ctx.safetensors"
    assert latents.stat().st_mtime_ns == cached  # the frozen latents are computed once per run
    y = torch.load(latents, weights_only=False)["train"]
    assert y.dtype == torch.float16 and y.shape == (1, 256, 12, 12)
    a = torch.load(tmp_path / "straight" / "last.pt", weights_only=False)
    b = torch.load(tmp_path / "resumed" / "last.pt", weights_only=False)
    assert a["step"] == b["step"] == 4 and a["model"].keys() == b["model"].keys()
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert a["state"]["best_val"] == b["state"]["best_val"]
    assert a["task_options"] == b["task_options"] == {"width": 8, "hidden": 8}
    exported = [tmp_path / run / "hyperprior_ctx.safetensors" for run in ("straight", "resumed")]
    assert weights_metadata(exported[0]) == weights_metadata(exported[1])
    sa, sb = (read_tensors(path) for path in exported)
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
