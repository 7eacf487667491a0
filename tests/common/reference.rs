//! A naive f64 reference MLP: plain per-sample loops, no GEMM, no SIMD, no rayon.
//!
//! It is the seed design note's per-layer loop, corrected as `docs/backprop.md`
//! says: the next delta uses the weights of the forward pass (the update comes
//! after the whole backward pass), and gradients are means over the batch.
//! The tests compare the engine against it, and it against finite differences
//! of its own loss.
//!
//! Parameters use the engine's flat layout: for each layer `l`, `W_l`
//! (`sizes[l+1] × sizes[l]`, row-major, like PyTorch's `Linear.weight`), then `b_l`.

use backprop::{Activation, Head};

/// A fully-connected network in f64, stored as plainly as possible.
#[derive(Clone, Debug)]
pub struct RefNet {
    /// Layer widths, input first.
    pub sizes: Vec<usize>,
    /// Activation of each hidden layer (`sizes.len() - 2` of them).
    pub hidden: Vec<Activation>,
    /// Output activation and loss.
    pub head: Head,
    /// `w[l]` is `sizes[l+1] × sizes[l]`, row-major.
    pub w: Vec<Vec<f64>>,
    /// `b[l]` has `sizes[l+1]` entries.
    pub b: Vec<Vec<f64>>,
}

/// What a batch may add to the plain mean loss: a weight per row (the loss
/// is then `Σ wᵢ·lossᵢ / Σ wᵢ`) and fixed dropout masks (`masks[row][l][j]`
/// multiplies unit `j` of hidden layer `l` of that row after its activation:
/// 0 or `1/(1-p)`).
#[derive(Clone, Debug, Default)]
pub struct Extras {
    /// One weight per row.
    pub w: Option<Vec<f64>>,
    /// Per row, per hidden layer, per unit.
    pub masks: Option<Vec<Vec<Vec<f64>>>>,
}

impl Extras {
    /// The masks `backprop::dropout` draws for rows `0..m` (batch positions,
    /// as `Trainer::step`/`gradient` key them) at optimizer step `step`.
    pub fn dropout_masks(
        sizes: &[usize],
        rate: f32,
        seed: u64,
        step: u64,
        m: usize,
    ) -> Vec<Vec<Vec<f64>>> {
        let d = backprop::dropout::Dropout::new(rate, seed)
            .expect("a valid rate")
            .expect("a positive rate");
        let hidden = &sizes[1..sizes.len() - 1];
        (0..m)
            .map(|row| {
                hidden
                    .iter()
                    .enumerate()
                    .map(|(l, &n)| {
                        (0..n)
                            .map(|j| {
                                if d.keeps(step, l, row as u64, j as u32) {
                                    f64::from(d.scale())
                                } else {
                                    0.0
                                }
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect()
    }

    fn weight(&self, i: usize) -> f64 {
        self.w.as_ref().map_or(1.0, |w| w[i])
    }

    fn total(&self, m: usize) -> f64 {
        self.w.as_ref().map_or(m as f64, |w| w[..m].iter().sum())
    }

    fn mask(&self, i: usize) -> Option<&[Vec<f64>]> {
        self.masks.as_ref().map(|m| m[i].as_slice())
    }
}

/// Number of parameters of a network with these layer widths.
pub fn param_count(sizes: &[usize]) -> usize {
    sizes.windows(2).map(|p| p[1] * p[0] + p[1]).sum()
}

/// Human-readable name of flat parameter `index`, e.g. `W2[1,0]` or `b1[3]`
/// (layers numbered from 1 as in `backprop.md`).
pub fn param_name(sizes: &[usize], index: usize) -> String {
    let mut i = index;
    for (l, p) in sizes.windows(2).enumerate() {
        let (n_in, n_out) = (p[0], p[1]);
        if i < n_out * n_in {
            return format!("W{}[{},{}]", l + 1, i / n_in, i % n_in);
        }
        i -= n_out * n_in;
        if i < n_out {
            return format!("b{}[{}]", l + 1, i);
        }
        i -= n_out;
    }
    format!("<out of range {index}>")
}

fn softplus(z: f64) -> f64 {
    // ln(1 + e^z) without overflow.
    z.max(0.0) + (-z.abs()).exp().ln_1p()
}

fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

fn activate(act: Activation, z: f64) -> f64 {
    match act {
        Activation::Sigmoid => sigmoid(z),
        Activation::Tanh => z.tanh(),
        Activation::Relu => z.max(0.0),
        Activation::Identity => z,
        Activation::Selu if z > 0.0 => SELU_SCALE * z,
        Activation::Selu => SELU_SCALE * SELU_ALPHA * z.exp_m1(),
        Activation::Silu => z * sigmoid(z),
        Activation::Gelu => z * normal_cdf(z),
        Activation::Mish => z * softplus(z).tanh(),
    }
}

/// PyTorch's SELU constants.
const SELU_SCALE: f64 = 1.050_700_987_355_480_5;
const SELU_ALPHA: f64 = 1.673_263_242_354_377_3;

/// `Φ(z)`, the standard normal distribution function.
fn normal_cdf(z: f64) -> f64 {
    0.5 * libm::erfc(-z / std::f64::consts::SQRT_2)
}

/// `f'(z)`, computed from `z` itself (independently of how the engine does it).
fn derivative(act: Activation, z: f64) -> f64 {
    match act {
        Activation::Sigmoid => {
            let s = sigmoid(z);
            s * (1.0 - s)
        }
        Activation::Tanh => {
            let t = z.tanh();
            1.0 - t * t
        }
        Activation::Relu => {
            if z > 0.0 {
                1.0
            } else {
                0.0
            }
        }
        Activation::Identity => 1.0,
        Activation::Selu if z > 0.0 => SELU_SCALE,
        Activation::Selu => SELU_SCALE * SELU_ALPHA * z.exp(),
        Activation::Silu => {
            let s = sigmoid(z);
            s + z * s * (1.0 - s)
        }
        Activation::Gelu => {
            normal_cdf(z) + z * (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt()
        }
        Activation::Mish => {
            // d/dz z·tanh(sp(z)) = tanh(sp) + z·sech²(sp)·σ(z)
            let sp = softplus(z);
            let sech = 1.0 / sp.cosh();
            sp.tanh() + z * sech * sech * sigmoid(z)
        }
    }
}

/// The head's output activation, applied to one sample's logits.
fn head_output(head: Head, z: &[f64]) -> Vec<f64> {
    match head {
        Head::SigmoidBce => z.iter().map(|&v| sigmoid(v)).collect(),
        Head::SoftmaxCe => {
            let max = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = z.iter().map(|&v| (v - max).exp()).collect();
            let s: f64 = e.iter().sum();
            e.iter().map(|&v| v / s).collect()
        }
        Head::Mse => z.to_vec(),
        Head::Poisson => z.iter().map(|&v| v.exp()).collect(),
    }
}

/// The head's loss for one sample, from its logits (never from the outputs).
fn head_loss(head: Head, z: &[f64], y: &[f64]) -> f64 {
    match head {
        // -[y log σ(z) + (1-y) log(1-σ(z))] = y softplus(-z) + (1-y) softplus(z)
        Head::SigmoidBce => z
            .iter()
            .zip(y)
            .map(|(&z, &y)| y * softplus(-z) + (1.0 - y) * softplus(z))
            .sum(),
        // -Σ y_k (z_k - logsumexp(z))
        Head::SoftmaxCe => {
            let max = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let lse = max + z.iter().map(|&v| (v - max).exp()).sum::<f64>().ln();
            z.iter().zip(y).map(|(&z, &y)| -y * (z - lse)).sum()
        }
        Head::Mse => z
            .iter()
            .zip(y)
            .map(|(&z, &y)| 0.5 * (z - y) * (z - y))
            .sum(),
        // the half deviance y·ln(y/a) - y + a of the rate a = exp(z)
        Head::Poisson => z
            .iter()
            .zip(y)
            .map(|(&z, &y)| {
                let a = z.exp();
                let ylny = if y > 0.0 { y * (y / a).ln() } else { 0.0 };
                ylny - y + a
            })
            .sum(),
    }
}

impl RefNet {
    /// Builds the network from the engine's flat f32 parameter vector.
    ///
    /// Panics if the lengths do not match (a bug in the test).
    #[track_caller]
    pub fn from_params(
        sizes: &[usize],
        hidden: &[Activation],
        head: Head,
        params: &[f32],
    ) -> RefNet {
        let params: Vec<f64> = params.iter().map(|&p| f64::from(p)).collect();
        Self::from_params_f64(sizes, hidden, head, &params)
    }

    /// As [`RefNet::from_params`], from f64 parameters.
    #[track_caller]
    pub fn from_params_f64(
        sizes: &[usize],
        hidden: &[Activation],
        head: Head,
        params: &[f64],
    ) -> RefNet {
        assert!(sizes.len() >= 2, "need at least input and output sizes");
        assert_eq!(
            hidden.len(),
            sizes.len() - 2,
            "one activation per hidden layer"
        );
        assert_eq!(params.len(), param_count(sizes), "flat parameter count");
        let mut w = Vec::new();
        let mut b = Vec::new();
        let mut at = 0;
        for p in sizes.windows(2) {
            let (n_in, n_out) = (p[0], p[1]);
            w.push(params[at..at + n_out * n_in].to_vec());
            at += n_out * n_in;
            b.push(params[at..at + n_out].to_vec());
            at += n_out;
        }
        RefNet {
            sizes: sizes.to_vec(),
            hidden: hidden.to_vec(),
            head,
            w,
            b,
        }
    }

    /// The parameters in the flat layout.
    pub fn params_f64(&self) -> Vec<f64> {
        let mut out = Vec::with_capacity(param_count(&self.sizes));
        for (w, b) in self.w.iter().zip(&self.b) {
            out.extend_from_slice(w);
            out.extend_from_slice(b);
        }
        out
    }

    /// Replaces the parameters from the flat layout.
    #[track_caller]
    pub fn set_params_f64(&mut self, params: &[f64]) {
        *self = Self::from_params_f64(&self.sizes, &self.hidden, self.head, params);
    }

    fn layers(&self) -> usize {
        self.sizes.len() - 1
    }

    /// Forward pass of one sample: the pre-activations `z[l]` of every layer and
    /// the activations `a[0] = x, a[1], …, a[L]` (`a[L]` is the head's output).
    fn forward_sample(&self, x: &[f64]) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
        self.forward_masked(x, None)
    }

    /// [`RefNet::forward_sample`] with each hidden layer's activations
    /// multiplied by its mask (so `a[l]` is what the next layer sees).
    fn forward_masked(
        &self,
        x: &[f64],
        mask: Option<&[Vec<f64>]>,
    ) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
        let layers = self.layers();
        let mut zs = Vec::with_capacity(layers);
        let mut acts = vec![x.to_vec()];
        for l in 0..layers {
            let (n_in, n_out) = (self.sizes[l], self.sizes[l + 1]);
            let prev = &acts[l];
            let mut z = vec![0.0; n_out];
            for (j, zj) in z.iter_mut().enumerate() {
                let mut s = self.b[l][j];
                for (k, pk) in prev.iter().enumerate() {
                    s += self.w[l][j * n_in + k] * pk;
                }
                *zj = s;
            }
            let a = if l + 1 < layers {
                z.iter()
                    .enumerate()
                    .map(|(j, &v)| activate(self.hidden[l], v) * mask.map_or(1.0, |m| m[l][j]))
                    .collect()
            } else {
                head_output(self.head, &z)
            };
            zs.push(z);
            acts.push(a);
        }
        (zs, acts)
    }

    /// Outputs of the head (`m × n_L`, row-major) for a batch of `m` rows.
    pub fn predict(&self, x: &[f64], m: usize) -> Vec<f64> {
        let (n0, nl) = (self.sizes[0], *self.sizes.last().unwrap());
        assert_eq!(x.len(), m * n0);
        let mut out = Vec::with_capacity(m * nl);
        for i in 0..m {
            let (_, acts) = self.forward_sample(&x[i * n0..(i + 1) * n0]);
            out.extend_from_slice(&acts[self.layers()]);
        }
        out
    }

    /// The smallest `|z|` over all pre-activations of ReLU and SELU hidden
    /// layers (whose derivative jumps at 0) for this batch (`f64::INFINITY` if there are none): finite differences are only
    /// meaningful when it is well above the step.
    pub fn min_abs_relu_z(&self, x: &[f64], m: usize) -> f64 {
        let n0 = self.sizes[0];
        let mut min = f64::INFINITY;
        for i in 0..m {
            let (zs, _) = self.forward_sample(&x[i * n0..(i + 1) * n0]);
            for (l, act) in self.hidden.iter().enumerate() {
                if matches!(act, Activation::Relu | Activation::Selu) {
                    for &z in &zs[l] {
                        min = min.min(z.abs());
                    }
                }
            }
        }
        min
    }

    /// Mean loss over the batch of `m` rows (`x`: `m × n_0`, `y`: `m × n_L`).
    #[track_caller]
    pub fn loss(&self, x: &[f64], y: &[f64], m: usize) -> f64 {
        self.loss_with(x, y, m, &Extras::default())
    }

    /// The (weighted, masked) mean loss `Σ wᵢ·lossᵢ / Σ wᵢ`.
    #[track_caller]
    pub fn loss_with(&self, x: &[f64], y: &[f64], m: usize, e: &Extras) -> f64 {
        let (n0, nl) = (self.sizes[0], *self.sizes.last().unwrap());
        assert_eq!(x.len(), m * n0, "x is m × n0");
        assert_eq!(y.len(), m * nl, "y is m × nL");
        let mut total = 0.0;
        for i in 0..m {
            let (zs, _) = self.forward_masked(&x[i * n0..(i + 1) * n0], e.mask(i));
            total += e.weight(i)
                * head_loss(self.head, &zs[self.layers() - 1], &y[i * nl..(i + 1) * nl]);
        }
        total / e.total(m)
    }

    /// Analytic gradient of [`RefNet::loss`], in the flat layout.
    #[track_caller]
    pub fn gradient(&self, x: &[f64], y: &[f64], m: usize) -> Vec<f64> {
        self.gradient_with(x, y, m, &Extras::default())
    }

    /// Analytic gradient of [`RefNet::loss_with`].
    #[track_caller]
    pub fn gradient_with(&self, x: &[f64], y: &[f64], m: usize, e: &Extras) -> Vec<f64> {
        let (n0, nl) = (self.sizes[0], *self.sizes.last().unwrap());
        assert_eq!(x.len(), m * n0, "x is m × n0");
        assert_eq!(y.len(), m * nl, "y is m × nL");
        let layers = self.layers();
        let mut dw: Vec<Vec<f64>> = self.w.iter().map(|w| vec![0.0; w.len()]).collect();
        let mut db: Vec<Vec<f64>> = self.b.iter().map(|b| vec![0.0; b.len()]).collect();
        for i in 0..m {
            let mask = e.mask(i);
            let (zs, acts) = self.forward_masked(&x[i * n0..(i + 1) * n0], mask);
            let yi = &y[i * nl..(i + 1) * nl];
            // dZ_L = w_i (A_L - Y) / Σw, for every head.
            let scale = e.weight(i) / e.total(m);
            let mut delta: Vec<f64> = acts[layers]
                .iter()
                .zip(yi)
                .map(|(&a, &t)| (a - t) * scale)
                .collect();
            for l in (0..layers).rev() {
                let (n_in, n_out) = (self.sizes[l], self.sizes[l + 1]);
                let prev = &acts[l];
                for j in 0..n_out {
                    for k in 0..n_in {
                        dw[l][j * n_in + k] += delta[j] * prev[k];
                    }
                    db[l][j] += delta[j];
                }
                if l > 0 {
                    // dA_{l-1} = W_l^T dZ_l with the forward pass's W_l, then ⊙ f'(Z_{l-1}).
                    let mut next = vec![0.0; n_in];
                    for (k, nk) in next.iter_mut().enumerate() {
                        let mut s = 0.0;
                        for (j, dj) in delta.iter().enumerate() {
                            s += self.w[l][j * n_in + k] * dj;
                        }
                        let keep = mask.map_or(1.0, |m| m[l - 1][k]);
                        *nk = s * keep * derivative(self.hidden[l - 1], zs[l - 1][k]);
                    }
                    delta = next;
                }
            }
        }
        let mut out = Vec::with_capacity(param_count(&self.sizes));
        for (w, b) in dw.iter().zip(&db) {
            out.extend_from_slice(w);
            out.extend_from_slice(b);
        }
        out
    }

    /// One plain SGD step on the batch: every parameter moves by `-lr ·` its mean
    /// gradient, applied after the whole backward pass.
    #[track_caller]
    pub fn sgd_step(&mut self, x: &[f64], y: &[f64], m: usize, lr: f64) {
        let g = self.gradient(x, y, m);
        let p: Vec<f64> = self
            .params_f64()
            .iter()
            .zip(&g)
            .map(|(&p, &g)| p - lr * g)
            .collect();
        self.set_params_f64(&p);
    }

    /// Central finite differences of [`RefNet::loss`] in f64, step `h`, in the
    /// flat layout.
    pub fn numerical_gradient(&self, x: &[f64], y: &[f64], m: usize, h: f64) -> Vec<f64> {
        self.numerical_gradient_with(x, y, m, h, &Extras::default())
    }

    /// Central finite differences of [`RefNet::loss_with`].
    pub fn numerical_gradient_with(
        &self,
        x: &[f64],
        y: &[f64],
        m: usize,
        h: f64,
        e: &Extras,
    ) -> Vec<f64> {
        let base = self.params_f64();
        let mut probe = self.clone();
        let mut p = base.clone();
        let mut out = Vec::with_capacity(base.len());
        for i in 0..base.len() {
            p[i] = base[i] + h;
            probe.set_params_f64(&p);
            let up = probe.loss_with(x, y, m, e);
            p[i] = base[i] - h;
            probe.set_params_f64(&p);
            let down = probe.loss_with(x, y, m, e);
            p[i] = base[i];
            out.push((up - down) / (2.0 * h));
        }
        out
    }
}

/// PyTorch's update rules (`torch.optim.SGD` with momentum/Nesterov and
/// dampening 0, `Adam`, `AdamW`, `RMSprop` without momentum, not centered) in
/// f64, one parameter at a time, with weight decay on the parameters marked
/// `decay` only (PyTorch with a weights group and a no-decay biases group).
///
/// Written from the PyTorch documentation's pseudo-code, independently of the
/// engine's kernels: `d = s·g (+ λ·w)`, then the rule.
#[derive(Clone, Debug)]
pub struct RefOptimizer {
    /// The hyper-parameters (widened to f64 where used).
    pub cfg: backprop::optim::OptimizerConfig,
    /// Per parameter: does weight decay apply (weights) or not (biases)?
    pub decay: Vec<bool>,
    /// Steps taken.
    pub step: u64,
    /// First state buffer (momentum buffer, `exp_avg`, `square_avg`).
    pub s0: Vec<f64>,
    /// Second state buffer (`exp_avg_sq`).
    pub s1: Vec<f64>,
}

impl RefOptimizer {
    /// Zeroed state for `decay.len()` parameters.
    pub fn new(cfg: backprop::optim::OptimizerConfig, decay: Vec<bool>) -> RefOptimizer {
        let n = decay.len();
        RefOptimizer {
            cfg,
            decay,
            step: 0,
            s0: vec![0.0; n],
            s1: vec![0.0; n],
        }
    }

    /// One step with learning rate `lr` on the summed gradient `grad` scaled
    /// by `grad_scale`.
    #[track_caller]
    pub fn step(&mut self, lr: f64, grad_scale: f64, params: &mut [f64], grad: &[f64]) {
        use backprop::optim::OptimizerKind;
        assert_eq!(params.len(), self.decay.len());
        assert_eq!(grad.len(), self.decay.len());
        self.step += 1;
        let t = self.step as i32;
        let c = self.cfg;
        let f = f64::from;
        let (mu, b1, b2, alpha, eps) =
            (f(c.momentum), f(c.beta1), f(c.beta2), f(c.alpha), f(c.eps));
        for i in 0..params.len() {
            let wd = if self.decay[i] {
                f(c.weight_decay)
            } else {
                0.0
            };
            let mut w = params[i];
            let g = grad_scale * grad[i];
            match c.kind {
                OptimizerKind::Sgd => {
                    let d = g + wd * w;
                    let u = if c.momentum == 0.0 {
                        d
                    } else {
                        self.s0[i] = if t == 1 { d } else { mu * self.s0[i] + d };
                        if c.nesterov {
                            d + mu * self.s0[i]
                        } else {
                            self.s0[i]
                        }
                    };
                    w -= lr * u;
                }
                OptimizerKind::Adam | OptimizerKind::AdamW => {
                    let d = if c.kind == OptimizerKind::AdamW {
                        w *= 1.0 - lr * wd;
                        g
                    } else {
                        g + wd * w
                    };
                    self.s0[i] = b1 * self.s0[i] + (1.0 - b1) * d;
                    self.s1[i] = b2 * self.s1[i] + (1.0 - b2) * d * d;
                    let m_hat = self.s0[i] / (1.0 - b1.powi(t));
                    let v_hat = self.s1[i] / (1.0 - b2.powi(t));
                    // PyTorch adds eps to sqrt(v)/sqrt(bc2), i.e. to sqrt(v_hat)
                    w -= lr * m_hat / (v_hat.sqrt() + eps);
                }
                OptimizerKind::RmsProp => {
                    let d = g + wd * w;
                    self.s0[i] = alpha * self.s0[i] + (1.0 - alpha) * d * d;
                    w -= lr * d / (self.s0[i].sqrt() + eps);
                }
            }
            params[i] = w;
        }
    }
}

/// `true` for every weight, `false` for every bias, in the flat layout of a
/// network with these widths: where weight decay applies.
pub fn weight_mask(sizes: &[usize]) -> Vec<bool> {
    let mut out = Vec::with_capacity(param_count(sizes));
    for p in sizes.windows(2) {
        out.resize(out.len() + p[0] * p[1], true);
        out.resize(out.len() + p[1], false);
    }
    out
}

/// The learning rate of global step `s = epoch·steps_per_epoch + step`
/// (both 0-based) in f64, written from the formulas of `src/schedule.rs`'s
/// module documentation, not from its code: with base rate `η` and a run of
/// `E` epochs of `S` steps,
///
/// - constant: `η`;
/// - step: `η · γ^⌊e / N⌋`;
/// - cosine: `η_min + (η - η_min) · (1 + cos(π · s / (E·S))) / 2`;
/// - invscaling: scikit-learn's `lr_init / (t_ + 1)^power_t`, `t_` the
///   samples seen before the epoch;
/// - flat-cos, coslog4, one-cycle: `pytabkit`'s `get_schedule` at the run's
///   progress `t = s / (R·S)` (`R` the run's epochs), as written there:
///   a constant, then `cos_sched.scaled(1, 0)`; `(1 - cos(2π log₂(1 + 15t)))/2`;
///   `cos_sched.scaled(0.04, 1)` for a quarter, then `scaled(1, 1e-5)`;
/// - warm-up over `W` epochs multiplies by `(s + 1) / (W·S)` while `s < W·S`.
///
/// Reduce-on-plateau depends on validation losses and is not modelled
/// (panics).
#[track_caller]
pub fn scheduled_lr(
    base: f64,
    schedule: backprop::schedule::LrSchedule,
    warmup_epochs: usize,
    run_epochs: usize, // (the cosine spans its own epochs)
    epoch: usize,
    step: usize,
    steps_per_epoch: usize,
) -> f64 {
    use backprop::schedule::LrSchedule;
    let s = (epoch * steps_per_epoch + step) as f64;
    let rate = match schedule {
        LrSchedule::Constant => base,
        LrSchedule::Step {
            every_epochs,
            gamma,
        } => {
            let decays = (epoch / every_epochs) as i32;
            base * f64::from(gamma).powi(decays)
        }
        LrSchedule::Cosine {
            min_lr,
            epochs: span,
        } => {
            let min = f64::from(min_lr);
            let total = (span * steps_per_epoch) as f64;
            let t = (s / total).min(1.0);
            min + (base - min) * (1.0 + (std::f64::consts::PI * t).cos()) / 2.0
        }
        LrSchedule::Plateau { .. } => panic!("scheduled_lr: plateau is not modelled"),
        // scikit-learn's SGDOptimizer.iteration_ends(t_): lr_init / (t_ + 1)^power_t
        // after each epoch, t_ the samples seen
        LrSchedule::InvScaling { power_t, rows } => {
            let t = (epoch * rows) as f64;
            base / (t + 1.0).powf(f64::from(power_t))
        }
        by_progress => {
            use std::f64::consts::PI;
            let t = s / (run_epochs * steps_per_epoch) as f64;
            // pytabkit: cos_func(x) = (1 - cos(πx))/2, scaled(lo, hi) = lo + (hi - lo)·f
            let cos_func = |x: f64| 0.5 * (1.0 - (PI * x).cos());
            let scaled = |lo: f64, hi: f64, x: f64| lo + (hi - lo) * cos_func(x);
            base * match by_progress {
                LrSchedule::FlatCos if t < 0.5 => 1.0,
                LrSchedule::FlatCos => scaled(1.0, 0.0, (t - 0.5) / 0.5),
                LrSchedule::CosLog4 => 0.5 * (1.0 - (2.0 * PI * (1.0 + 15.0 * t).log2()).cos()),
                LrSchedule::OneCycle if t < 0.25 => scaled(0.04, 1.0, t / 0.25),
                LrSchedule::OneCycle => scaled(1.0, 1e-5, (t - 0.25) / 0.75),
                other => unreachable!("{other:?}"),
            }
        }
    };
    let warm = (warmup_epochs * steps_per_epoch) as f64;
    if s < warm {
        rate * (s + 1.0) / warm
    } else {
        rate
    }
}

/// The reference network trained by a [`RefOptimizer`] as PyTorch would
/// train it: mean gradient of the batch ([`RefNet::gradient`]), then
/// `clip_grad_norm_` over all parameters (`coef = max / (‖g‖₂ + 1e-6)`,
/// applied only when below 1), then the optimizer's rule with weight decay on
/// the weights only.
#[derive(Clone, Debug)]
pub struct RefTrainer {
    /// The network, updated in place.
    pub net: RefNet,
    /// The update rule and its state.
    pub opt: RefOptimizer,
    /// The clipping threshold, if any.
    pub clip_norm: Option<f64>,
    /// Steps whose gradient norm was above the threshold (clipped).
    pub clipped: usize,
    /// Steps taken with clipping on whose norm was at or below it.
    pub unclipped: usize,
}

impl RefTrainer {
    /// A trainer for `net` with zeroed optimizer state.
    pub fn new(
        net: RefNet,
        cfg: backprop::optim::OptimizerConfig,
        clip_norm: Option<f32>,
    ) -> RefTrainer {
        let decay = weight_mask(&net.sizes);
        RefTrainer {
            net,
            opt: RefOptimizer::new(cfg, decay),
            clip_norm: clip_norm.map(f64::from),
            clipped: 0,
            unclipped: 0,
        }
    }

    /// The L2 norm of the mean gradient of the batch.
    pub fn grad_norm(&self, x: &[f64], y: &[f64], m: usize) -> f64 {
        let g = self.net.gradient(x, y, m);
        g.iter().map(|v| v * v).sum::<f64>().sqrt()
    }

    /// One step at learning rate `lr` on a batch of `m` rows; returns the
    /// batch's mean loss before the update.
    #[track_caller]
    pub fn step(&mut self, x: &[f64], y: &[f64], m: usize, lr: f64) -> f64 {
        self.step_with(x, y, m, lr, &Extras::default())
    }

    /// [`RefTrainer::step`] on the weighted, masked loss.
    #[track_caller]
    pub fn step_with(&mut self, x: &[f64], y: &[f64], m: usize, lr: f64, e: &Extras) -> f64 {
        let loss = self.net.loss_with(x, y, m, e);
        let g = self.net.gradient_with(x, y, m, e);
        let coef = match self.clip_norm {
            None => 1.0,
            Some(max) => {
                let norm = g.iter().map(|v| v * v).sum::<f64>().sqrt();
                let coef = max / (norm + 1e-6);
                if coef < 1.0 {
                    self.clipped += 1;
                    coef
                } else {
                    self.unclipped += 1;
                    1.0
                }
            }
        };
        let mut p = self.net.params_f64();
        self.opt.step(lr, coef, &mut p, &g);
        self.net.set_params_f64(&p);
        loss
    }
}
