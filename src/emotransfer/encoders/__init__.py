"""Trainable encoders: one interface (:class:`~emotransfer.encoders.base.Encoder`) for every
modality and every kind of front end, so models, strategies, the Trainer and the Predictor
never look inside one."""
