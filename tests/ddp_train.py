"""Voice training on the tiny corpus in one process or in each of torchrun's (tests/test_distributed.py).

    python tests/ddp_train.py MODE PROCESSED OUT EPOCHS
    python -m torch.distributed.run --nproc-per-node 2 tests/ddp_train.py MODE ...

MODE `epochs`: EPOCHS training epochs as VoiceTrainer runs them (process 0 saves the parameters); `halves`: the
same epochs in one process computed as two processes compute them, each batch's two halves (examples 0, 2, 4, ...
and 1, 3, 5, ...) through the network separately, each with its own batch-norm statistics, and their losses
averaged; `stage`: train_voice_encoder with checkpoints in OUT/ck, keeping a copy of each epoch's checkpoint and
the epochs it ran.
"""

import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from s2f.config import VoiceModelParams  # noqa: E402
from s2f.models.augment import augment  # noqa: E402
from s2f.models.data import load_voice_data  # noqa: E402
from s2f.models.distributed import ranks  # noqa: E402
from s2f.models.losses import voice_loss  # noqa: E402
from s2f.models.networks import DecoderConfig, FaceDecoder  # noqa: E402
from s2f.models.train_voice import VoiceTrainer, train_voice_encoder  # noqa: E402


def halves_epoch(t: VoiceTrainer, epoch: int) -> None:
    """VoiceTrainer.train_epoch as two processes run it, in one."""
    t.model.train()
    t.train_set.set_epoch(epoch)
    for batch, (spec, rows, *known) in enumerate(t.loader(t.train_set)):
        if len(rows) < 4:
            continue
        seed = (t.p.seed * 100_003 + epoch) * 10_007 + batch
        losses = []
        for rank in (0, 1):
            mine = list(range(rank, len(rows), 2))
            x = augment(spec[mine], t.augmentation, seed, mine) if t.model.trunk is not None else spec[mine]
            speaker = known[0][mine] if known else None  # the crops' cached speaker embeddings
            losses.append(voice_loss(t.model(x, speaker), t.train_faces.features[rows[mine]],
                                     t.train_faces.speaker[rows[mine]], t.targets["train"], t.weights)["loss"])
        t.opt.zero_grad()
        (sum(losses) / 2).backward()
        t.opt.step()
    t.sched.step()


def main() -> None:
    mode, processed, out, epochs = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)  # the same frozen decoder layer in every process and run
    fc = FaceDecoder(DecoderConfig()).fc
    p = VoiceModelParams(frames=100, batch_size=4, epochs=epochs, dropout=0.0)
    data = load_voice_data(processed / "face_features", processed / "spectrograms", p.memory_gb)
    if mode == "stage":
        seen = []

        def keep(epoch: int, _: dict) -> None:  # called in process 0 only
            seen.append(epoch)
            for ckpt in (out / "ck").glob("*.pt"):
                shutil.copy(ckpt, out / f"epoch{epoch}.pt")

        encoder, _ = train_voice_encoder(p, fc, data, "tiny", out / "ck", keep)
        if ranks().main:
            torch.save(encoder.state_dict(), out / "model.pt")
            (out / "epochs.json").write_text(json.dumps(seen))
        return
    trainer = VoiceTrainer(p, fc, data)
    for epoch in range(epochs):
        trainer.train_epoch(epoch) if mode == "epochs" else halves_epoch(trainer, epoch)
    if ranks().main:
        torch.save({k: v.detach() for k, v in trainer.model.named_parameters()}, out / "model.pt")


if __name__ == "__main__":
    main()
