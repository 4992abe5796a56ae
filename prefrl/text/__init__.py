"""The preference loop for a language model: tasks and oracles, a small GPT, pretraining and SFT."""
