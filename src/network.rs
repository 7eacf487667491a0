//! [`Mlp`]: the layer sizes, activations, head and one flat parameter vector.
//!
//! Parameters are stored flat, layer after layer: `W_l` (`n_l × n_{l-1}`,
//! row-major, the orientation of a PyTorch `Linear.weight`) then `b_l`
//! (`n_l`). The flat layout makes the shard reduction and the optimizer one
//! pass over one slice; [`Mlp::weights`] and [`Mlp::bias`] give the views.
//! Scratch and optimizer state live elsewhere: a model is just its weights.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::activation::{Activation, Head};
use crate::aligned::AlignedVec;
use crate::error::{Error, Result};
use crate::init::Init;
use crate::kernels::{self, gemm};

/// Where each layer's weights and bias sit in the flat parameter vector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    /// `n_0, n_1, …, n_L`.
    pub sizes: Vec<usize>,
    /// Offset of `W_l` for each layer (0-based `l`); `b_l` follows it.
    pub offsets: Vec<usize>,
    /// Total parameter count.
    pub len: usize,
}

impl Layout {
    fn new(sizes: &[usize]) -> Result<Layout> {
        if sizes.len() < 2 {
            return Err(Error::config(
                "hidden_layers",
                format!("need at least an input and an output size, got {sizes:?}"),
            ));
        }
        if let Some(i) = sizes.iter().position(|&n| n == 0) {
            return Err(Error::config(
                "hidden_layers",
                format!("layer {i} has size 0 in {sizes:?}"),
            ));
        }
        let mut offsets = Vec::with_capacity(sizes.len() - 1);
        let mut len = 0usize;
        for pair in sizes.windows(2) {
            offsets.push(len);
            len = pair[0]
                .checked_mul(pair[1])
                .and_then(|w| w.checked_add(pair[1]))
                .and_then(|l| l.checked_add(len))
                .filter(|&l| l <= isize::MAX as usize / 4)
                .ok_or_else(|| {
                    Error::config(
                        "hidden_layers",
                        format!("{sizes:?} has too many parameters"),
                    )
                })?;
        }
        Ok(Layout {
            sizes: sizes.to_vec(),
            offsets,
            len,
        })
    }

    /// Number of weight layers `L`.
    pub fn layers(&self) -> usize {
        self.sizes.len() - 1
    }

    /// `(n_in, n_out)` of layer `l`.
    pub fn dims(&self, l: usize) -> (usize, usize) {
        (self.sizes[l], self.sizes[l + 1])
    }

    /// Range of `W_l` in the flat vector.
    pub fn w_range(&self, l: usize) -> std::ops::Range<usize> {
        let (i, o) = self.dims(l);
        self.offsets[l]..self.offsets[l] + i * o
    }

    /// Range of `b_l` in the flat vector.
    pub fn b_range(&self, l: usize) -> std::ops::Range<usize> {
        let end = self.w_range(l).end;
        end..end + self.sizes[l + 1]
    }
}

/// A multi-layer perceptron: `L` dense layers, hidden activations, an output head.
///
/// ```
/// use backprop::{Activation, Head, Mlp};
/// // 2 inputs, one hidden layer of 4 sigmoid units, 1 sigmoid output with BCE
/// let mlp = Mlp::new(&[2, 4, 1], &[Activation::Sigmoid], Head::SigmoidBce, 7).unwrap();
/// assert_eq!(mlp.num_params(), 2 * 4 + 4 + 4 * 1 + 1);
/// let p = mlp.predict(&[0.0, 1.0, 1.0, 0.0], 2).unwrap();
/// assert_eq!((p.rows(), p.cols()), (2, 1));
/// assert!(p.as_slice().iter().all(|&v| v > 0.0 && v < 1.0));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Mlp {
    layout: Layout,
    hidden: Vec<Activation>,
    head: Head,
    /// On a cache line ([`AlignedVec`]): the update kernels stream it.
    params: AlignedVec,
}

impl Mlp {
    /// A network with seeded random weights and zero biases: Glorot-uniform
    /// (`±sqrt(6/(n_in+n_out))`) for layers followed by sigmoid, tanh, identity
    /// or the head, He-uniform (`±sqrt(6/n_in)`) for layers followed by ReLU
    /// ([`Init::Auto`]; [`Mlp::with_init`] takes another rule).
    ///
    /// `sizes` is `[n_0, …, n_L]`; `hidden` has one activation per hidden layer
    /// (`sizes.len() - 2` of them).
    ///
    /// # Errors
    /// [`Error::Config`] for fewer than two sizes, a zero size, or a wrong
    /// number of hidden activations.
    pub fn new(sizes: &[usize], hidden: &[Activation], head: Head, seed: u64) -> Result<Mlp> {
        Mlp::with_init(sizes, hidden, head, seed, Init::Auto)
    }

    /// A network whose parameters `init` draws from a ChaCha8 stream seeded
    /// with `seed` (see [`Init`]).
    ///
    /// ```
    /// use backprop::{Activation, Head, Init, Mlp};
    /// let torch = Mlp::with_init(&[4, 3, 1], &[Activation::Relu], Head::Mse, 1, Init::Torch)?;
    /// assert!(torch.weights(0).iter().all(|w| w.abs() <= 0.5)); // 1/√4 (then 1/√3)
    /// assert!(torch.bias(0).iter().any(|&b| b != 0.0));
    /// # Ok::<(), backprop::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`Mlp::new`].
    pub fn with_init(
        sizes: &[usize],
        hidden: &[Activation],
        head: Head,
        seed: u64,
        init: Init,
    ) -> Result<Mlp> {
        let layout = Layout::new(sizes)?;
        check_hidden(&layout, hidden)?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut params = AlignedVec::zeros(layout.len);
        for l in 0..layout.layers() {
            let (n_in, n_out) = layout.dims(l);
            let bound = init.bound(l, n_in, n_out, hidden);
            let (w, b) =
                params[layout.w_range(l).start..layout.b_range(l).end].split_at_mut(n_in * n_out);
            init.fill_layer(bound, w, b, &mut rng);
        }
        Ok(Mlp {
            layout,
            hidden: hidden.to_vec(),
            head,
            params,
        })
    }

    /// A network with the given flat parameters (see the module docs for the layout).
    ///
    /// # Errors
    /// [`Error::Config`] as for [`Mlp::new`]; [`Error::Shape`] if `params` has
    /// the wrong length.
    pub fn from_params(
        sizes: &[usize],
        hidden: &[Activation],
        head: Head,
        params: Vec<f32>,
    ) -> Result<Mlp> {
        let layout = Layout::new(sizes)?;
        check_hidden(&layout, hidden)?;
        if params.len() != layout.len {
            return Err(Error::shape(
                "Mlp::from_params",
                format!("{} parameters for layers {sizes:?}", layout.len),
                format!("{} parameters", params.len()),
            ));
        }
        Ok(Mlp {
            layout,
            hidden: hidden.to_vec(),
            head,
            params: AlignedVec::from_slice(&params),
        })
    }

    /// `[n_0, …, n_L]`.
    pub fn sizes(&self) -> &[usize] {
        &self.layout.sizes
    }
    /// The hidden activations, one per hidden layer.
    pub fn hidden(&self) -> &[Activation] {
        &self.hidden
    }
    /// The output head.
    pub fn head(&self) -> Head {
        self.head
    }
    /// Number of weight layers `L`.
    pub fn num_layers(&self) -> usize {
        self.layout.layers()
    }
    /// Number of inputs `n_0`.
    pub fn inputs(&self) -> usize {
        self.layout.sizes[0]
    }
    /// Number of outputs `n_L`.
    pub fn outputs(&self) -> usize {
        *self.layout.sizes.last().expect("at least two sizes")
    }
    /// Total parameter count.
    pub fn num_params(&self) -> usize {
        self.layout.len
    }
    /// All parameters, flat.
    pub fn params(&self) -> &[f32] {
        &self.params
    }
    /// All parameters, flat and mutable.
    pub fn params_mut(&mut self) -> &mut [f32] {
        &mut self.params
    }
    /// `W_l` (0-based `l`), `n_{l+1} × n_l` row-major.
    ///
    /// # Panics
    /// If `l >= self.num_layers()`.
    pub fn weights(&self, l: usize) -> &[f32] {
        &self.params[self.layout.w_range(l)]
    }
    /// `b_l` (0-based `l`).
    ///
    /// # Panics
    /// If `l >= self.num_layers()`.
    pub fn bias(&self, l: usize) -> &[f32] {
        &self.params[self.layout.b_range(l)]
    }
    /// Parameters of layer `l` (0-based): its weights and biases,
    /// `n_l · n_{l+1} + n_{l+1}`.
    ///
    /// ```
    /// use backprop::{Activation, Head, Mlp};
    /// let mlp = Mlp::new(&[3, 4, 2], &[Activation::Relu], Head::SoftmaxCe, 1).unwrap();
    /// assert_eq!((mlp.layer_params(0), mlp.layer_params(1)), (3 * 4 + 4, 4 * 2 + 2));
    /// assert_eq!(mlp.layer_params(0) + mlp.layer_params(1), mlp.num_params());
    /// ```
    ///
    /// # Panics
    /// If `l >= self.num_layers()`.
    pub fn layer_params(&self, l: usize) -> usize {
        let (i, o) = self.layout.dims(l);
        i * o + o
    }

    pub(crate) fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The activation applied after layer `l`, `None` for the output layer.
    pub(crate) fn activation_after(&self, l: usize) -> Option<Activation> {
        self.hidden.get(l).copied()
    }
}

fn check_hidden(layout: &Layout, hidden: &[Activation]) -> Result<()> {
    if hidden.len() != layout.layers() - 1 {
        return Err(Error::config(
            "activation",
            format!(
                "{} hidden layers need {} activations, got {}",
                layout.layers() - 1,
                layout.layers() - 1,
                hidden.len()
            ),
        ));
    }
    Ok(())
}

/// One layer forward on `rows` samples: `z ← f(a_prev·Wᵀ + b)`, where `f` is
/// the hidden activation (none for the output layer, whose logits stay).
pub(crate) fn layer_forward(
    mlp: &Mlp,
    l: usize,
    a_prev: &[f32],
    rows: usize,
    z: &mut [f32],
) -> Result<()> {
    layer_linear(mlp, l, a_prev, rows, z)?;
    if let Some(act) = mlp.activation_after(l) {
        kernels::activate(act, z);
    }
    Ok(())
}

/// One layer's pre-activations on `rows` samples: `z ← a_prev·Wᵀ + b`.
pub(crate) fn layer_linear(
    mlp: &Mlp,
    l: usize,
    a_prev: &[f32],
    rows: usize,
    z: &mut [f32],
) -> Result<()> {
    let (n_in, n_out) = mlp.layout.dims(l);
    kernels::simd::bias_rows_simd(mlp.bias(l), z);
    gemm::forward(a_prev, rows, n_in, mlp.weights(l), n_out, z)
}
