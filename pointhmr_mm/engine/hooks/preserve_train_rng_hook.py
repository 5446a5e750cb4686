"""Keep validation from consuming the training random streams."""
from mmengine.hooks import Hook

from pointhmr_mm.registry import HOOKS
from pointhmr_mm.engine.runner import get_rng_states, set_rng_states


@HOOKS.register_module()
class PreserveTrainRNGHook(Hook):
    """Restore the RNG states after validation to what they were before.

    Checkpoints are saved after a training epoch and before its
    validation; without this hook the validation's random draws (e.g. the
    DataLoader's seed) would make a resumed run differ from an
    uninterrupted one.
    """
    priority = 'VERY_HIGH'

    def before_val(self, runner) -> None:
        self._states = get_rng_states()

    def after_val(self, runner) -> None:
        if getattr(self, '_states', None) is not None:
            set_rng_states(self._states)
            self._states = None
