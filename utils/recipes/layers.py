"""Keras 3 layers for the networks: features inside the model, augmentation, normalisation (any backend)."""
from __future__ import annotations

import keras
import librosa
from keras import ops

from utils.dataset.words import SAMPLE_RATE


@keras.saving.register_keras_serializable(package="kit")
class LogMel(keras.layers.Layer):
    """Log-mel spectrograms at several window sizes, stacked as channels and standardised per clip.

    Input: waveforms (batch, samples), float in [-1, 1].
    Output: (batch, frames, n_mels, len(fft_sizes)); 101 frames for 1 s at a 10 ms hop.
    """

    def __init__(self, *, fft_sizes=(256, 512, 1024), hop=160, n_mels=64, sample_rate=SAMPLE_RATE, **kwargs):
        super().__init__(**kwargs)
        self.fft_sizes = tuple(int(f) for f in fft_sizes)
        self.hop = int(hop)
        self.n_mels = int(n_mels)
        self.sample_rate = int(sample_rate)
        self.filters = [
            librosa.filters.mel(sr=sample_rate, n_fft=f, n_mels=n_mels, fmin=20.0, fmax=sample_rate / 2).T.astype("float32")
            for f in self.fft_sizes
        ]

    def call(self, waves):
        waves = ops.cast(waves, "float32")
        channels = []
        for fft, filters in zip(self.fft_sizes, self.filters):
            real, imag = ops.stft(waves, sequence_length=fft, sequence_stride=self.hop, fft_length=fft, center=True)
            power = ops.square(real) + ops.square(imag)
            channels.append(ops.log(ops.matmul(power, ops.convert_to_tensor(filters)) + 1e-6))
        mel = ops.stack(channels, axis=-1)
        mean = ops.mean(mel, axis=(1, 2), keepdims=True)
        std = ops.std(mel, axis=(1, 2), keepdims=True)
        return (mel - mean) / (std + 1e-5)

    def compute_output_shape(self, input_shape):
        frames = None if input_shape[1] is None else input_shape[1] // self.hop + 1
        return (input_shape[0], frames, self.n_mels, len(self.fft_sizes))

    def get_config(self):
        return {**super().get_config(), "fft_sizes": self.fft_sizes, "hop": self.hop, "n_mels": self.n_mels,
                "sample_rate": self.sample_rate}


@keras.saving.register_keras_serializable(package="kit")
class SpecAugment(keras.layers.Layer):
    """Zero random time and frequency bands while training; identity at inference.

    Input and output: (batch, frames, bins, channels).
    """

    def __init__(self, *, time_masks=2, time_width=12, freq_masks=2, freq_width=8, random_state=None, **kwargs):
        super().__init__(**kwargs)
        self.time_masks, self.time_width = int(time_masks), int(time_width)
        self.freq_masks, self.freq_width = int(freq_masks), int(freq_width)
        self.random_state = random_state
        self.generator = keras.random.SeedGenerator(random_state)

    def _band_mask(self, batch, size, count, width):
        """(batch, size) with 0 inside ``count`` random bands of up to ``width``, 1 elsewhere."""
        positions = ops.arange(size, dtype="float32")[None, :]
        keep = ops.ones((batch, size))
        for _ in range(count):
            widths = keras.random.uniform((batch, 1), 0, width, seed=self.generator)
            starts = keras.random.uniform((batch, 1), 0, size, seed=self.generator) - widths / 2
            inside = ops.logical_and(positions >= starts, positions < starts + widths)
            keep = keep * (1.0 - ops.cast(inside, "float32"))
        return keep

    def call(self, x, training=None):
        if not training:
            return x
        batch = ops.shape(x)[0]
        time_keep = self._band_mask(batch, x.shape[1], self.time_masks, self.time_width)
        freq_keep = self._band_mask(batch, x.shape[2], self.freq_masks, self.freq_width)
        return x * ops.cast(time_keep[:, :, None, None] * freq_keep[:, None, :, None], x.dtype)

    def get_config(self):
        return {**super().get_config(), "time_masks": self.time_masks, "time_width": self.time_width,
                "freq_masks": self.freq_masks, "freq_width": self.freq_width, "random_state": self.random_state}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if "seed" in config:  # saved by an older version
            config["random_state"] = config.pop("seed")
        return super().from_config(config)



@keras.saving.register_keras_serializable(package="kit")
class Standardize(keras.layers.Layer):
    """Standardise each clip over all its axes but the batch: zero mean, unit deviation.

    Input and output: (batch, ...) float.
    """

    def call(self, x):
        axes = tuple(range(1, len(x.shape)))
        x = ops.cast(x, "float32")
        mean = ops.mean(x, axis=axes, keepdims=True)
        return (x - mean) / (ops.std(x, axis=axes, keepdims=True) + 1e-5)


@keras.saving.register_keras_serializable(package="kit")
class TimeBatchNormalization(keras.layers.BatchNormalization):
    """BatchNormalization of (batch, frames, channels) over its last axis, in one fused kernel on TensorFlow.

    On the TensorFlow backend it runs TensorFlow's fused batch norm (oneDNN on a
    CPU, cuDNN on a GPU), several times faster than Keras's own ops there. The
    statistics are Keras's, except that the moving variance follows the
    unbiased batch variance (n / (n - 1), n = batch * frames). Other backends
    and other shapes use Keras's layer.
    """

    def call(self, inputs, training=None, mask=None):
        if keras.config.backend() != "tensorflow" or mask is not None or len(inputs.shape) != 3 \
                or self.axis not in (-1, 2) or self.renorm or not (self.center and self.scale):
            return super().call(inputs, training=training, mask=mask)
        import tensorflow as tf

        train = bool(training and self.trainable)
        y, mean, variance = tf.compat.v1.nn.fused_batch_norm(
            tf.expand_dims(inputs, 2), tf.convert_to_tensor(self.gamma), tf.convert_to_tensor(self.beta),
            mean=tf.convert_to_tensor(self.moving_mean), variance=tf.convert_to_tensor(self.moving_variance),
            epsilon=self.epsilon, is_training=train, exponential_avg_factor=1.0 - self.momentum if train else 1.0)
        if train:
            self.moving_mean.assign(mean)
            self.moving_variance.assign(variance)
        return tf.cast(tf.squeeze(y, 2), self.compute_dtype)
