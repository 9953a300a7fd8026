//! The networks `analyze train` trains: an MLP, a small CNN and All-CNN-C.
//!
//! Every model maps a batch of images `(batch, channels, height, width)` to logits
//! `(batch, classes)`; the softmax is applied by the training step, not by the model.
//! Parameters are initialised as PyTorch initialises `nn.Linear` and `nn.Conv2d` by default:
//! weights and biases uniform in `(-1/sqrt(fan_in), 1/sqrt(fan_in))`, where `fan_in` is the
//! number of inputs of one output unit. Values are drawn from the caller's seeded generator in
//! f64 and then cast, so an f32 and an f64 model from the same seed start from the same
//! values up to rounding.

use std::collections::HashMap;

use candle_core::{D, DType, Device, Tensor, Var};
use rand::RngExt;
use rand::rngs::ChaCha8Rng;

use super::TrainError;
use crate::data::ImageShape;

/// The model architectures.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
pub enum ModelKind {
    /// Multilayer perceptron 784-256-256-10 (input and output sizes follow the data), ReLU.
    #[serde(rename = "mlp")]
    #[value(name = "mlp")]
    Mlp,
    /// Small CNN: two 3x3 convolutions with stride 2 (32 and 64 channels, ReLU), a 1x1
    /// convolution to the classes and global average pooling.
    #[serde(rename = "cnn")]
    #[value(name = "cnn")]
    Cnn,
    /// All-CNN-C (Springenberg et al. 2015), adapted to the number of input channels and the
    /// image size; dropout 0.2 on the input and 0.5 after each stride-2 convolution.
    #[serde(rename = "allcnn-c")]
    #[value(name = "allcnn-c")]
    AllCnnC,
}

impl ModelKind {
    /// Returns the name used on the command line, in logs and in checkpoints.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Mlp => "mlp",
            ModelKind::Cnn => "cnn",
            ModelKind::AllCnnC => "allcnn-c",
        }
    }
}

impl std::fmt::Display for ModelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Hidden layer widths of the MLP.
pub const MLP_HIDDEN: [usize; 2] = [256, 256];

/// Whether a forward pass trains (dropout active, masks drawn from the generator) or
/// evaluates (dropout off).
pub enum Mode<'a> {
    Train(&'a mut ChaCha8Rng),
    Eval,
}

#[derive(Debug, Clone)]
enum Layer {
    /// `x . W^T + b`, followed by ReLU when `relu` is set.
    Linear {
        weight: Var,
        bias: Var,
        relu: bool,
    },
    /// A convolution with bias, followed by ReLU when `relu` is set.
    Conv {
        weight: Var,
        bias: Var,
        stride: usize,
        padding: usize,
        relu: bool,
    },
    Relu,
    Flatten,
    Dropout {
        rate: f64,
    },
    GlobalAveragePool,
}

/// A network with its parameters. Not `Clone`: a copy would share the parameter storage.
#[derive(Debug)]
pub struct Model {
    kind: ModelKind,
    input_shape: ImageShape,
    classes: usize,
    layers: Vec<Layer>,
    parameters: Vec<(String, Var)>,
}

impl Model {
    /// Builds a freshly initialised model for images of `input_shape` and `classes` classes.
    /// Fails when the images are too small for the architecture.
    pub fn new(
        kind: ModelKind,
        input_shape: ImageShape,
        classes: usize,
        dtype: DType,
        device: &Device,
        rng: &mut ChaCha8Rng,
    ) -> Result<Model, TrainError> {
        let mut builder = Builder {
            kind,
            input_shape,
            shape: input_shape,
            features: None,
            layers: Vec::new(),
            parameters: Vec::new(),
            dtype,
            device: device.clone(),
            rng,
        };
        match kind {
            ModelKind::Mlp => {
                builder.flatten();
                for width in MLP_HIDDEN {
                    builder.linear(width)?;
                    builder.relu();
                }
                builder.linear(classes)?;
            }
            ModelKind::Cnn => {
                builder.conv(32, 3, 2, 1)?;
                builder.relu();
                builder.conv(64, 3, 2, 1)?;
                builder.relu();
                builder.conv(classes, 1, 1, 0)?;
                builder.global_average_pool();
            }
            ModelKind::AllCnnC => build_all_cnn_c(&mut builder, classes)?,
        }
        Ok(Model {
            kind,
            input_shape,
            classes,
            layers: builder.layers,
            parameters: builder.parameters,
        })
    }

    /// Returns the architecture.
    pub fn kind(&self) -> ModelKind {
        self.kind
    }

    /// Returns the shape of one input image.
    pub fn input_shape(&self) -> ImageShape {
        self.input_shape
    }

    /// Returns the number of classes (outputs).
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Returns the named parameters in layer order.
    pub fn parameters(&self) -> &[(String, Var)] {
        &self.parameters
    }

    /// Returns the number of scalar parameters.
    pub fn parameter_count(&self) -> usize {
        self.parameters
            .iter()
            .map(|(_, var)| var.elem_count())
            .sum()
    }

    /// Computes logits `(batch, classes)` for images `(batch, channels, height, width)`.
    pub fn forward(&self, images: &Tensor, mut mode: Mode<'_>) -> candle_core::Result<Tensor> {
        let mut x = images.clone();
        for layer in &self.layers {
            x = match layer {
                Layer::Linear { weight, bias, relu } => {
                    crate::fastlinear::linear(&x, weight.as_tensor(), bias.as_tensor(), *relu)?
                }
                Layer::Conv {
                    weight,
                    bias,
                    stride,
                    padding,
                    relu,
                } => crate::fastconv::conv2d_layer(
                    &x,
                    weight.as_tensor(),
                    bias.as_tensor(),
                    *stride,
                    *padding,
                    *relu,
                    // Evaluation has no backward pass to keep the columns for.
                    matches!(mode, Mode::Train(_)),
                )?,
                Layer::Relu => x.relu()?,
                Layer::Flatten => x.flatten_from(1)?,
                Layer::Dropout { rate } => match &mut mode {
                    Mode::Train(rng) => dropout(&x, *rate, rng)?,
                    Mode::Eval => x,
                },
                Layer::GlobalAveragePool => x.flatten_from(2)?.mean(D::Minus1)?,
            };
        }
        Ok(x)
    }

    /// Copies parameter values from `tensors`, keyed by parameter name. Fails when a name is
    /// missing or a shape differs.
    pub fn load_parameters(&self, tensors: &HashMap<String, Tensor>) -> Result<(), TrainError> {
        for (name, var) in &self.parameters {
            let Some(value) = tensors.get(name) else {
                return Err(TrainError::Checkpoint {
                    reason: format!("the parameter {name} of the {} model is missing", self.kind),
                });
            };
            if value.dims() != var.dims() {
                return Err(TrainError::Checkpoint {
                    reason: format!(
                        "the parameter {name} has shape {:?}, but the {} model expects {:?}",
                        value.dims(),
                        self.kind,
                        var.dims()
                    ),
                });
            }
            let value = value.to_device(var.device())?.to_dtype(var.dtype())?;
            var.set(&value)?;
        }
        Ok(())
    }
}

/// Adds All-CNN-C: input dropout, three blocks of 3x3 convolutions (96, 96, 96 with stride 2;
/// 192, 192, 192 with stride 2), dropout after each block, then a 3x3 convolution without
/// padding, two 1x1 convolutions (192 and the classes), each followed by ReLU, and global
/// average pooling.
///
/// NOTE: the dropout rates and the ReLU after the class convolution follow the usual
/// description of All-CNN-C; they were not checked against the original paper here.
fn build_all_cnn_c(builder: &mut Builder<'_>, classes: usize) -> Result<(), TrainError> {
    builder.dropout(0.2);
    for channels in [96, 192] {
        builder.conv(channels, 3, 1, 1)?;
        builder.relu();
        builder.conv(channels, 3, 1, 1)?;
        builder.relu();
        builder.conv(channels, 3, 2, 1)?;
        builder.relu();
        builder.dropout(0.5);
    }
    builder.conv(192, 3, 1, 0)?;
    builder.relu();
    builder.conv(192, 1, 1, 0)?;
    builder.relu();
    builder.conv(classes, 1, 1, 0)?;
    builder.relu();
    builder.global_average_pool();
    Ok(())
}

/// Zeroes each value with probability `rate` and scales the others by `1 / (1 - rate)`.
fn dropout(x: &Tensor, rate: f64, rng: &mut ChaCha8Rng) -> candle_core::Result<Tensor> {
    let keep = 1.0 - rate;
    let scale = (1.0 / keep) as f32;
    let mask: Vec<f32> = (0..x.elem_count())
        .map(|_| if rng.random_bool(keep) { scale } else { 0.0 })
        .collect();
    let mask = Tensor::from_vec(mask, x.shape(), x.device())?.to_dtype(x.dtype())?;
    x.mul(&mask)
}

/// Appends layers while tracking the activation shape.
struct Builder<'a> {
    kind: ModelKind,
    input_shape: ImageShape,
    /// Activation shape while the activations are images.
    shape: ImageShape,
    /// Activation width once flattened.
    features: Option<usize>,
    layers: Vec<Layer>,
    parameters: Vec<(String, Var)>,
    dtype: DType,
    device: Device,
    rng: &'a mut ChaCha8Rng,
}

impl Builder<'_> {
    fn linear(&mut self, outputs: usize) -> Result<(), TrainError> {
        let inputs = self.features.unwrap_or(self.shape.len());
        let name = format!("linear{}", self.count("linear") + 1);
        let weight = self.uniform(&[outputs, inputs], inputs)?;
        let bias = self.uniform(&[outputs], inputs)?;
        self.parameters
            .push((format!("{name}.weight"), weight.clone()));
        self.parameters.push((format!("{name}.bias"), bias.clone()));
        self.layers.push(Layer::Linear {
            weight,
            bias,
            relu: false,
        });
        self.features = Some(outputs);
        Ok(())
    }

    fn conv(
        &mut self,
        channels: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
    ) -> Result<(), TrainError> {
        let input = self.shape;
        if input.height + 2 * padding < kernel || input.width + 2 * padding < kernel {
            return Err(TrainError::ImageTooSmall {
                model: self.kind,
                shape: self.input_shape,
                layer: self.layers.len() + 1,
                activation: input,
                kernel,
            });
        }
        let fan_in = input.channels * kernel * kernel;
        let name = format!("conv{}", self.count("conv") + 1);
        let weight = self.uniform(&[channels, input.channels, kernel, kernel], fan_in)?;
        let bias = self.uniform(&[channels], fan_in)?;
        self.parameters
            .push((format!("{name}.weight"), weight.clone()));
        self.parameters.push((format!("{name}.bias"), bias.clone()));
        self.layers.push(Layer::Conv {
            weight,
            bias,
            stride,
            padding,
            relu: false,
        });
        self.shape = ImageShape {
            channels,
            height: (input.height + 2 * padding - kernel) / stride + 1,
            width: (input.width + 2 * padding - kernel) / stride + 1,
        };
        Ok(())
    }

    /// Adds ReLU, folded into the layer before it when that is a linear or convolution layer
    /// (one autograd node on the CPU instead of two).
    fn relu(&mut self) {
        match self.layers.last_mut() {
            Some(Layer::Linear { relu, .. } | Layer::Conv { relu, .. }) if !*relu => *relu = true,
            _ => self.layers.push(Layer::Relu),
        }
    }

    fn flatten(&mut self) {
        self.layers.push(Layer::Flatten);
        self.features = Some(self.shape.len());
    }

    fn dropout(&mut self, rate: f64) {
        self.layers.push(Layer::Dropout { rate });
    }

    fn global_average_pool(&mut self) {
        self.layers.push(Layer::GlobalAveragePool);
        self.features = Some(self.shape.channels);
    }

    fn count(&self, prefix: &str) -> usize {
        self.parameters
            .iter()
            .filter(|(name, _)| name.starts_with(prefix) && name.ends_with(".weight"))
            .count()
    }

    /// Draws a parameter uniform in `(-1/sqrt(fan_in), 1/sqrt(fan_in))`.
    fn uniform(&mut self, shape: &[usize], fan_in: usize) -> Result<Var, TrainError> {
        let bound = 1.0 / (fan_in as f64).sqrt();
        let count: usize = shape.iter().product();
        let values: Vec<f64> = (0..count)
            .map(|_| self.rng.random_range(-bound..bound))
            .collect();
        let tensor = Tensor::from_vec(values, shape, &self.device)?.to_dtype(self.dtype)?;
        Ok(Var::from_tensor(&tensor)?)
    }
}
