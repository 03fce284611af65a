"""Reports of ReID runs: JSON (written by the engine), Markdown and PNG figures."""
