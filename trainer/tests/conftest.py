"""Makes trainer/ importable in the tests (`tokensqueeze_trainer`, `world_pretrain`) without installing it."""

import sys
from pathlib import Path

TRAINER_DIR = Path(__file__).resolve().parents[1]
if str(TRAINER_DIR) not in sys.path:
    sys.path.insert(0, str(TRAINER_DIR))
