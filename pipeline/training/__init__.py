"""Training data and learning runs: weak supervision from QA pairs (``supervision``), prompts and
targets for the generator (``generator_data``), and continual learning from feedback
(``learning``). The models' own training loops live in model/; the CLI in pipeline/cli/."""
