"""Screen --policy-reset-check on a published cell: run the cell's recorded config with the check, and (with
--stop-if-kept) stop once the check keeps the fresh policy, since from there the run is the cell's own run without it.

    python benchmarks/reset_check.py benchmarks/results/figure2/configs/Hopper-v5/700-perfect-disagreement-s3.json \
        OUT --share 0.6 --stop-if-kept

Prints the check's finding (also in OUT/reset_check.json); a run that goes back trains to the end.
"""

from __future__ import annotations

import argparse
import json
import os

import prefrl.control.trainer as trainer_module
from prefrl import TrainConfig, train
from prefrl.control import run_folder as rf


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", help="a cell's config.json (a results folder's configs/ENV/CELL.json)")
    p.add_argument("out", help="run folder to write")
    p.add_argument("--share", type=float, default=0.6, help="--policy-reset-check SHARE (default: 0.6)")
    p.add_argument("--stop-if-kept", action="store_true", help="stop once the check keeps the fresh policy")
    args = p.parse_args()
    check = trainer_module.Trainer.check_reset_if_due

    def check_and_report(self: trainer_module.Trainer, model) -> None:  # type: ignore[no-untyped-def]
        before = self.reset_checked_at
        check(self, model)
        if before or not self.reset_checked_at:
            return
        found = rf.read_json(self.out / rf.RESET_CHECK)
        print(json.dumps(found), flush=True)
        if args.stop_if_kept and not found["went_back"]:
            os._exit(0)  # the rest is the run without the check, to the last digit

    trainer_module.Trainer.check_reset_if_due = check_and_report  # type: ignore[method-assign]
    with open(args.config) as f:
        config = json.load(f)
    config.update(progress=False, policy_reset_check=args.share)
    print(train(TrainConfig.from_dict(config), args.out))


if __name__ == "__main__":
    main()
