"""SSL objectives, one per module, as pure `nn.Module`s on head outputs (float32 maths).

==================  ==========================================  =====================
module              loss                                        THEORY.md
==================  ==========================================  =====================
``simclr.py``       `NTXentLoss` (SimCLR, shared MLP head)      T9
``cissl.py``        `CISSLLoss` (linear student, MLP teacher)   T8
``dino.py``         `DINOLoss` (EMA teacher, centring)          T7 (contrast)
``dissl.py``        `DISSLLoss` (joint teacher, no EMA)         T7
``exact.py``        `ExactISSLLoss` (CE on known M)             T6
``swav.py``         `SwAVLoss` (Sinkhorn codes, prototypes)     T7 (contrast)
``barlow.py``       `BarlowTwinsLoss` (cross-correlation)       T6 (invariance)
``simsiam.py``      `SimSiamLoss` (predictor, stop-gradient)    T6 (invariance)
``distributed.py``  gathers / all-reduces with gradients
==================  ==========================================  =====================

Every loss's ``forward`` returns ``(loss, logs)``: a float32 scalar tensor and a dict of floats.
"""

from ssltheory.ssl.losses.barlow import BarlowTwinsLoss
from ssltheory.ssl.losses.cissl import CISSLLoss
from ssltheory.ssl.losses.dino import DINOLoss
from ssltheory.ssl.losses.dissl import DISSLLoss
from ssltheory.ssl.losses.exact import ExactISSLLoss
from ssltheory.ssl.losses.simclr import NTXentLoss
from ssltheory.ssl.losses.simsiam import SimSiamLoss
from ssltheory.ssl.losses.swav import SwAVLoss

__all__ = [
    "NTXentLoss",
    "CISSLLoss",
    "DINOLoss",
    "DISSLLoss",
    "ExactISSLLoss",
    "SwAVLoss",
    "BarlowTwinsLoss",
    "SimSiamLoss",
]
