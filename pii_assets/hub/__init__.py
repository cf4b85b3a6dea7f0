"""Publishing folders to, and fetching them from, a Hugging Face Hub."""
