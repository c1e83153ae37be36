"""Run a strategy over a dataset on one or more backends; see ``onetwo.run``.

Example:
  python -m onetwo.run --strategy=solve.py:solve --dataset=qa.jsonl \\
      --backend=local:smollm2 --metric=solve.py:exact --output_dir=runs/first

Exit status: 0 ok, 1 more failed examples than --max_errors, 2 bad flags or inputs,
130 interrupted (rerun with --resume). --helpfull lists every flag.
"""

from onetwo.run import cli

if __name__ == "__main__":
    cli.run()
