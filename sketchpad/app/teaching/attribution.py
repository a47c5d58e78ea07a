"""Which strokes made the pack say what it says: leave one stroke out, ask again. No Qt.

For a sketch of n strokes the engine answers n + 1 sketches in one batch: the whole sketch and
each sketch with one stroke removed. A stroke's *effect* is how much the top class's probability
drops without it (negative: the stroke argued against that class). This is the same engine the
window uses, with the same preprocessing, so the colours explain the answer the window shows.

For a DSN pack the fusion's attention weights are a different thing: one weight per *branch*
(the picture CNN and the stroke-order RNN), not per stroke. They are shown only when the pack's
export found that they tell which branch decides (``probes.attention.check``); otherwise the
view says why not.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnxruntime as ort

from ...engine import session_options, stack_inputs
from ...ink import Sketch
from ...runtime import LoadedPack
from .assets import AttentionSpec

#: Beyond this many strokes the batch gets slow; the sketch's first strokes are explained.
MAX_STROKES = 60
#: A stroke whose removal moves the top class by less than this does not matter on its own.
SMALL = 0.02


@dataclass(frozen=True)
class StrokeEffect:
    index: int            # 0-based stroke order
    without: str          # the pack's answer without this stroke
    without_p: float      # that answer's probability
    top_p_without: float  # probability of the full sketch's answer without this stroke
    effect: float         # full probability − top_p_without (> 0: the stroke supports it)


@dataclass(frozen=True)
class Attribution:
    top: str
    top_p: float
    effects: list[StrokeEffect]
    n_strokes: int
    attention: np.ndarray | None = None    # [w_cnn, w_rnn] for this sketch

    def flipping(self) -> list[StrokeEffect]:
        return [e for e in self.effects if e.without != self.top]

    def sentence(self) -> str:
        """What leaving strokes out shows, in words that are true of the numbers."""
        if self.n_strokes < 2:
            return (f"It says {self.top} ({self.top_p:.0%}). With a single stroke there is "
                    "nothing to leave out: draw more to see which strokes matter.")
        flips = sorted(self.flipping(), key=lambda e: -e.effect)
        head = ""
        if flips:
            e = flips[0]
            head = (f"Without stroke {e.index + 1} it would say {e.without} ({e.without_p:.0%}) "
                    f"instead of {self.top} ({self.top_p:.0%}).")
            if len(flips) > 1:
                others = ", ".join(str(f.index + 1) for f in flips[1:6])
                head += (f" Leaving out stroke{'s' if len(flips) > 2 else ''} {others} on "
                         f"{'their' if len(flips) > 2 else 'its'} own changes its answer too.")
        else:
            best = max(self.effects, key=lambda e: e.effect)
            if best.effect < SMALL:
                head = (f"It says {self.top} ({self.top_p:.0%}), and no stroke matters much on "
                        f"its own: leaving any one out moves {self.top} by less than "
                        f"{SMALL * 100:.0f} points.")
            else:
                head = (f"It says {self.top} ({self.top_p:.0%}) whichever single stroke is left "
                        f"out. Stroke {best.index + 1} matters most: without it, {self.top} "
                        f"drops to {best.top_p_without:.0%}.")
        against = min(self.effects, key=lambda e: e.effect)
        if against.effect <= -0.05:
            head += (f" Stroke {against.index + 1} argues against {self.top}: without it "
                     f"{self.top} would rise to {against.top_p_without:.0%}.")
        if self.n_strokes > len(self.effects):
            head += f" (Only the first {len(self.effects)} strokes were tried.)"
        return head


def attribute(pack: LoadedPack, sketch: Sketch, attention: AttentionSpec | None = None,
              session: ort.InferenceSession | None = None) -> Attribution:
    """Leave each stroke out in turn (one batch through the pack's engine)."""
    engine = pack.engine
    n = len(sketch.strokes)
    tried = min(n, MAX_STROKES) if n > 1 else 0
    variants = [sketch] + [sketch.remove_stroke(i) for i in range(tried)]
    out = engine.run_all(stack_inputs([engine.inputs_for(s) for s in variants]))
    probs = np.stack([p.probs for p in engine.predictions(out)])   # as the window shows them
    classes = pack.pack.classes
    top = int(np.argmax(probs[0]))
    effects = []
    for i in range(tried):
        p = probs[i + 1]
        k = int(np.argmax(p))
        effects.append(StrokeEffect(i, classes[k], float(p[k]), float(p[top]),
                                    float(probs[0, top] - p[top])))
    weights = None
    if attention is not None and "rnn" in out:
        session = session or attention_session(attention)
        weights = session.run([attention.output],
                              {"cnn_embedding": out["convnet"]["embedding"][:1],
                               "rnn_embedding": out["rnn"]["embedding"][:1]})[0][0]
    return Attribution(classes[top], float(probs[0, top]), effects, n, weights)


def attention_session(spec: AttentionSpec) -> ort.InferenceSession:
    return ort.InferenceSession(str(spec.file), session_options(1),
                                providers=["CPUExecutionProvider"])


def attention_sentence(spec: AttentionSpec | None, weights: np.ndarray | None,
                       has_fusion: bool, has_probes: bool) -> str:
    """What the DSN's attention says about this sketch, or why it is not shown (nothing for a
    pack whose fusion has no attention)."""
    if not has_fusion or (spec is None and has_probes):
        return ""
    if spec is None:
        return ("If this pack's fusion weighs its two branches with attention, the pack carries "
                "no probe to show it: run “python -m training.teaching_assets” on the pack.")
    c = spec.check
    agree, split = c.get("favoured_branch_decides"), c.get("branches_disagree")
    tested = (f"on {c.get('drawings', '?')} gallery drawings, {split} of which the two branches "
              f"answer differently, the fused answer is the more-weighted branch's "
              f"{agree:.0%} of the time" if isinstance(agree, float) else "it was not tested")
    if not spec.meaningful or weights is None:
        return ("The DSN's attention weighs its two branches (picture and stroke order), not "
                f"strokes, and its weights are not shown: {tested}, too seldom for the weights "
                "to explain an answer.")
    return (f"The DSN's attention gave the picture (CNN) {weights[0]:.2f} and the stroke order "
            f"(RNN) {weights[1]:.2f} of its weight for this sketch. Those weights mean something: "
            f"{tested}.")
