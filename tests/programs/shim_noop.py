"""W&B calls the shim accepts and ignores; each notice once on stderr."""
import wandb

wandb.login()
with wandb.init(project="demo", config={"a": 1}) as run:
    wandb.watch(object(), log="all")
    wandb.watch(object())
    art = wandb.Artifact("model", type="model")
    art.add_file("/nonexistent")
    run.log_artifact(art)
    table = wandb.Table(columns=["x", "y"])
    table.add_data(1, 2)
    wandb.log({"table": table, "hist": wandb.Histogram([1, 2]), "plot": wandb.plot.line(table, "x", "y"),
               "loss": 0.5})
    wandb.alert(title="t", text="x", level=wandb.AlertLevel.WARN)
    wandb.save("*.pt")
    assert isinstance(wandb.Image(None), wandb.Image)
    for _ in wandb.Table():
        raise SystemExit(3)
called = []
wandb.agent("sweep", function=lambda: called.append(1), count=5)
assert called == [1]
assert wandb.run is None
