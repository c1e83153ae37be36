"""The reference OneTwo's documented examples, run on onetwo (issue 12)."""
