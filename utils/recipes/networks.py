"""Keras 3 networks, selectable by name."""
from __future__ import annotations

import keras
from keras import layers

from utils.registry import Registry
from utils.dataset.words import CLIP_SAMPLES, N_WORDS
from utils.recipes.layers import LogMel, SpecAugment, Standardize, TimeBatchNormalization
from utils.recipes.mel_features import CLIP_FRAMES, N_MELS
from utils.recipes.seed_features import SEED_FEATURE_SHAPE


def _seed_block(x, filters: int):
    conv = dict(kernel_size=3, padding="same", activation="selu", kernel_initializer="lecun_normal")
    first = layers.Conv2D(filters, **conv)(x)
    second = layers.Conv2D(filters, **conv)(layers.BatchNormalization()(first))
    x = layers.BatchNormalization()(layers.Add()([first, second]))
    return layers.Add()([layers.MaxPooling2D(2)(x), layers.AveragePooling2D(2)(x)])


def seed_cnn(input_shape: tuple[int, ...] = SEED_FEATURE_SHAPE, n_words: int = N_WORDS) -> keras.Model:
    """The seed solution's SELU CNN: four conv blocks, two dense layers, softmax.

    780,862 parameters on the (98, 221) log spectrogram (given a channel axis inside).
    """
    inputs = keras.Input(shape=input_shape)
    x = layers.Reshape((*input_shape, 1))(inputs)
    for _ in range(4):
        x = _seed_block(x, 32)
    x = layers.Flatten()(x)
    for _ in range(2):
        x = layers.Dense(256, activation="selu", kernel_initializer="lecun_normal")(x)
        x = layers.BatchNormalization()(x)
    outputs = layers.Dense(n_words, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="seed_cnn")


def _norm():
    # momentum 0.9: inference statistics settle within tens of steps, not hundreds
    return layers.BatchNormalization(momentum=0.9)


def _time_norm():
    # the same for (batch, frames, channels), in TensorFlow's fused kernel
    return TimeBatchNormalization(momentum=0.9)


def _residual_block(x, filters: int, stride: int):
    shortcut = x
    x = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False)(x)
    x = layers.Activation("swish")(_norm()(x))
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
    x = _norm()(x)
    if stride != 1 or shortcut.shape[-1] != filters:
        shortcut = _norm()(layers.Conv2D(filters, 1, strides=stride, use_bias=False)(shortcut))
    return layers.Activation("swish")(layers.Add()([x, shortcut]))


def _head(x, n_words: int) -> keras.KerasTensor:
    x = layers.Dropout(0.3)(x)
    # zero weights: training starts from the uniform guess; float32 even under mixed precision
    logits = layers.Dense(n_words, kernel_initializer="zeros", dtype="float32")(x)
    return layers.Activation("softmax", dtype="float32")(logits)


def logmel_resnet(input_shape: tuple[int, ...] = (CLIP_SAMPLES,), n_words: int = N_WORDS,
               widths: tuple[int, ...] = (32, 64, 128, 256)) -> keras.Model:
    """A ResNet on log-mel features computed inside the model from the raw waveform.

    Three window sizes (16, 32, 64 ms) stacked as channels, SpecAugment while
    training, residual stages that halve time and frequency, global average
    and max pooling.
    """
    inputs = keras.Input(shape=input_shape)
    x = SpecAugment()(LogMel(dtype="float32")(inputs))  # features in float32 under mixed precision
    x = layers.Conv2D(widths[0], 3, padding="same", use_bias=False)(x)
    x = layers.Activation("swish")(_norm()(x))
    for stage, filters in enumerate(widths):
        x = _residual_block(x, filters, stride=1 if stage == 0 else 2)
        x = _residual_block(x, filters, stride=1)
    x = layers.Concatenate()([layers.GlobalAveragePooling2D()(x), layers.GlobalMaxPooling2D()(x)])
    return keras.Model(inputs, _head(x, n_words), name="logmel_resnet")


def _dense_block(x, layers_in_block: int, growth: int):
    for _ in range(layers_in_block):
        y = layers.Activation("swish")(_norm()(x))
        y = layers.Conv2D(growth, 3, padding="same", use_bias=False)(y)
        x = layers.Concatenate()([x, y])
    return x


def logmel_densenet(input_shape: tuple[int, ...] = (CLIP_SAMPLES,), n_words: int = N_WORDS,
                 blocks: tuple[int, ...] = (4, 4, 4, 4), growth: int = 24) -> keras.Model:
    """A DenseNet on the same in-model log-mel: each layer sees every earlier layer's maps."""
    inputs = keras.Input(shape=input_shape)
    x = SpecAugment()(LogMel(dtype="float32")(inputs))
    x = layers.Conv2D(2 * growth, 3, padding="same", use_bias=False)(x)
    for index, size in enumerate(blocks):
        x = _dense_block(x, size, growth)
        if index < len(blocks) - 1:  # transition: halve the channels and the map
            x = layers.Activation("swish")(_norm()(x))
            x = layers.Conv2D(x.shape[-1] // 2, 1, use_bias=False)(x)
            x = layers.AveragePooling2D(2)(x)
    x = layers.Activation("swish")(_norm()(x))
    x = layers.Concatenate()([layers.GlobalAveragePooling2D()(x), layers.GlobalMaxPooling2D()(x)])
    return keras.Model(inputs, _head(x, n_words), name="logmel_densenet")


def wave1d_cnn(input_shape: tuple[int, ...] = (CLIP_SAMPLES,), n_words: int = N_WORDS) -> keras.Model:
    """A 1D CNN on the raw waveform: strided convolutions learn their own filter bank."""
    inputs = keras.Input(shape=input_shape)
    x = layers.Reshape((*input_shape, 1))(inputs)
    x = layers.Conv1D(64, 80, strides=4, padding="same", use_bias=False)(x)
    x = layers.Activation("swish")(_time_norm()(x))
    for filters in (64, 128, 128, 256, 256):
        for _ in range(2):
            x = layers.Conv1D(filters, 3, padding="same", use_bias=False)(x)
            x = layers.Activation("swish")(_time_norm()(x))
        x = layers.MaxPooling1D(3)(x)
    x = layers.Concatenate()([layers.GlobalAveragePooling1D()(x), layers.GlobalMaxPooling1D()(x)])
    return keras.Model(inputs, _head(x, n_words), name="wave1d_cnn")


def _temporal_block(x, filters: int, stride: int, kernel: int):
    shortcut = x
    x = layers.Conv1D(filters, kernel, strides=stride, padding="same", use_bias=False)(x)
    x = layers.Activation("relu")(_time_norm()(x))
    x = _time_norm()(layers.Conv1D(filters, kernel, padding="same", use_bias=False)(x))
    if stride != 1 or shortcut.shape[-1] != filters:
        shortcut = _time_norm()(layers.Conv1D(filters, 1, strides=stride, use_bias=False)(shortcut))
    return layers.Activation("relu")(layers.Add()([x, shortcut]))


def tc_resnet(input_shape: tuple[int, ...] = (CLIP_FRAMES, N_MELS), n_words: int = N_WORDS,
              widths: tuple[int, ...] = (96, 144, 192, 256), kernel: int = 5, front: int = 12) -> keras.Model:
    """A temporal ResNet on log-mel frames (the TC-ResNet family), with a small 2-D front.

    Each clip standardised; one strided 3x3 Conv2D of ``front`` channels
    (20 ms steps, half the bands) finds local patterns wherever they sit in
    pitch; its bands and channels then become the channels of a 1x1
    Conv1D and plain Conv1D residual blocks, one per width, each after the
    first halving time; global average and max pooling. 1.30 M parameters.
    """
    inputs = keras.Input(shape=input_shape)
    x = layers.Reshape((*input_shape, 1))(Standardize()(inputs))
    x = layers.Activation("relu")(_norm()(layers.Conv2D(front, 3, strides=2, padding="same", use_bias=False)(x)))
    x = layers.Reshape((x.shape[1], x.shape[2] * front))(x)
    x = layers.Activation("relu")(_time_norm()(layers.Conv1D(widths[0], 1, use_bias=False)(x)))
    for stage, filters in enumerate(widths):
        x = _temporal_block(x, filters, stride=1 if stage == 0 else 2, kernel=kernel)
    x = layers.Concatenate()([layers.GlobalAveragePooling1D()(x), layers.GlobalMaxPooling1D()(x)])
    return keras.Model(inputs, _head(x, n_words), name="tc_resnet")


MODELS: Registry = Registry("network", {
    "seed_cnn": seed_cnn, "logmel_resnet": logmel_resnet, "logmel_densenet": logmel_densenet, "wave1d_cnn": wave1d_cnn,
    "tc_resnet": tc_resnet,
}, renamed={"kit_resnet": "logmel_resnet", "kit_densenet": "logmel_densenet", "kit_wave1d": "wave1d_cnn"})


def build_model(name: str) -> keras.Model:
    """A fresh network by name (see MODELS)."""
    return MODELS.pick(name)()
