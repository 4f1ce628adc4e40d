"""An ordinary W&B training script (test_sw_proto runs it under the shim with a pipe
and HPSWEEP_PARAMS_JSON={"lr": 0.01, "layers": 4})."""
import math

import wandb

run = wandb.init(project="demo", config={"lr": 0.5, "epochs": 3, "layers": 2})
assert wandb.run is run
config = wandb.config
assert config is run.config
# Sweep values win over config=, and stay locked against later updates.
assert config.lr == 0.01 and config["layers"] == 4 and config.epochs == 3
config.update({"lr": 9.0, "batch": 32})
config.dropout = 0.1
assert config.lr == 0.01 and config.batch == 32 and config.get("dropout") == 0.1
assert sorted(config.keys()) == ["batch", "dropout", "epochs", "layers", "lr"]
assert config.as_dict()["epochs"] == 3 and dict(config.items())["layers"] == 4
wandb.define_metric("val_loss", summary="min")

wandb.log({"cfg_lr": config.lr, "cfg_layers": config.layers, "cfg_epochs": config.epochs})  # step 0
wandb.log({"train_loss": 2.0}, commit=False)                          # accumulates ...
wandb.log({"val_loss": 1.5})                                          # ... step 1
assert run.step == 2
wandb.log({"val_loss": 1.0, "nested": {"acc": 0.5}}, step=5)         # pending at 5
wandb.log({"train_loss": 1.2}, step=5, commit=True)                  # step 5 committed
wandb.log({"val_loss": 9.9}, step=3)                                  # smaller: ignored
wandb.log({"val_loss": 1.25, "text": "hello", "img": wandb.Image(None)})  # step 6
wandb.log({"val_loss": float("nan")}, step=8)                         # pending at 8 ...
run.log({"lr_now": 0.001}, step=9)                                    # ... committed by step 9
assert run.summary["val_loss"] == 1.0                                 # min of the finite ones
assert run.summary.train_loss == 1.2
run.summary["best_acc"] = 0.75
wandb.finish()
assert wandb.run is None
