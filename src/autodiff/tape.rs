//! The tape (Wengert list), its variables and the backward sweep.
//!
//! Node $i$ stores its parents $p$ with the local partial derivatives $\partial v_i/\partial v_p$.
//! Nodes are only ever appended, and a node's parents exist before it, so creation order is a
//! topological order and the backward pass is one sweep from the output down to node 0:
//! $$\bar v_p \mathrel{+}= \bar v_i \\,\frac{\partial v_i}{\partial v_p},\qquad \bar v_{\text{out}} = 1.$$
//!
//! A [`Tape`] exists only inside [`with_tape`]. Each call brands its tape and variables with a
//! fresh, invariant lifetime `'id`, so a variable of one tape cannot be combined with a variable
//! of another: that misuse is a compile error, not a run-time check.
//!
//! ```compile_fail
//! use dpo_oracle::autodiff::with_tape;
//! with_tape(|a| with_tape(|b| {
//!     let x = a.var(1.0);
//!     let y = b.var(2.0);
//!     (x + y).value() // error: the two tapes carry different brands
//! }));
//! ```

use std::cell::RefCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Add, Div, Mul, Neg, Sub};

use ndarray::{Array, ArrayBase, Data, Dimension};

use super::elementary;

/// Invariant lifetime brand: `fn(&'id ()) -> &'id ()` is neither co- nor contravariant in `'id`.
type Brand<'id> = PhantomData<fn(&'id ()) -> &'id ()>;

/// A Wengert list of scalar `f64` nodes. Create one with [`with_tape`].
pub struct Tape<'id> {
    nodes: RefCell<Nodes>,
    _brand: Brand<'id>,
}

/// Edges of node `i` are `edges[start[i]..start[i + 1]]`: `(parent index, ∂node/∂parent)`.
struct Nodes {
    start: Vec<usize>,
    edges: Vec<(usize, f64)>,
}

/// Runs `f` with a fresh tape whose variables cannot escape `f` or meet another tape's.
///
/// ```
/// use dpo_oracle::autodiff::with_tape;
/// let (value, grad) = with_tape(|t| {
///     let x = t.var(3.0);
///     let y = x * x + x.exp();
///     let g = y.backward();
///     (y.value(), g.wrt(x))
/// });
/// assert_eq!(value, 9.0 + 3f64.exp());
/// assert_eq!(grad, 6.0 + 3f64.exp());
/// ```
pub fn with_tape<R>(f: impl for<'id> FnOnce(&'id Tape<'id>) -> R) -> R {
    let tape = Tape {
        nodes: RefCell::new(Nodes {
            start: vec![0],
            edges: Vec::new(),
        }),
        _brand: PhantomData,
    };
    f(&tape)
}

impl<'id> Tape<'id> {
    /// A new input variable with value `x`.
    #[inline]
    pub fn var(&'id self, x: f64) -> Var<'id> {
        self.push(x, [])
    }

    /// Lifts every element of an array onto the tape as an input variable.
    pub fn vars<S, D>(&'id self, xs: &ArrayBase<S, D>) -> Array<Var<'id>, D>
    where
        S: Data<Elem = f64>,
        D: Dimension,
    {
        xs.map(|&x| self.var(x))
    }

    /// Reserves room for at least `nodes` more nodes with `edges` more edges in total (an
    /// optimisation for a tape whose size is known in advance; it changes no result).
    pub fn reserve(&self, nodes: usize, edges: usize) {
        let mut list = self.nodes.borrow_mut();
        list.start.reserve(nodes);
        list.edges.reserve(edges);
    }

    /// Number of nodes recorded so far.
    pub fn len(&self) -> usize {
        self.nodes.borrow().start.len() - 1
    }

    /// Whether no node has been recorded yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends a node with the given value and `(parent, local partial)` edges.
    #[inline]
    pub(crate) fn push<const N: usize>(
        &'id self,
        value: f64,
        edges: [(usize, f64); N],
    ) -> Var<'id> {
        let mut nodes = self.nodes.borrow_mut();
        nodes.edges.extend(edges);
        let end = nodes.edges.len();
        nodes.start.push(end);
        Var {
            tape: self,
            index: nodes.start.len() - 2,
            value,
        }
    }

    /// Appends a node whose parents are `parents` with partials produced by `partial(i)`.
    pub(crate) fn push_nary(
        &'id self,
        value: f64,
        parents: &[Var<'id>],
        partial: impl Fn(usize) -> f64,
    ) -> Var<'id> {
        let mut nodes = self.nodes.borrow_mut();
        nodes.edges.extend(
            parents
                .iter()
                .enumerate()
                .map(|(i, p)| (p.index, partial(i))),
        );
        let end = nodes.edges.len();
        nodes.start.push(end);
        Var {
            tape: self,
            index: nodes.start.len() - 2,
            value,
        }
    }
}

/// A scalar on a tape: its value, and its place in the list. `Copy`, like an `f64`.
#[derive(Clone, Copy)]
pub struct Var<'id> {
    tape: &'id Tape<'id>,
    index: usize,
    value: f64,
}

impl fmt::Debug for Var<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Var#{}({:?})", self.index, self.value)
    }
}

impl<'id> Var<'id> {
    /// The value computed in the forward pass.
    #[inline]
    pub fn value(self) -> f64 {
        self.value
    }

    /// The tape this variable lives on.
    #[inline]
    pub fn tape(self) -> &'id Tape<'id> {
        self.tape
    }

    /// One backward sweep: the gradient of `self` with respect to every earlier node.
    ///
    /// A node whose adjoint is exactly zero passes nothing on (it is a structural zero), so an
    /// infinite local partial behind a branch that does not contribute cannot turn into
    /// `0 × ∞ = NaN`.
    pub fn backward(self) -> Gradients<'id> {
        let nodes = self.tape.nodes.borrow();
        let mut adjoint = vec![0.0; self.index + 1];
        adjoint[self.index] = 1.0;
        // Node i's edges are edges[span[0]..span[1]] with span = start[i..i + 2].
        let spans = nodes.start[..self.index + 2].windows(2).enumerate().rev();
        for (i, span) in spans {
            let a = adjoint[i];
            if a == 0.0 {
                continue;
            }
            for &(p, w) in &nodes.edges[span[0]..span[1]] {
                adjoint[p] += w * a;
            }
        }
        Gradients {
            adjoint,
            _brand: PhantomData,
        }
    }

    /// A node with one parent (`self`) and local partial `d`.
    #[inline]
    pub(crate) fn unary(self, (value, d): (f64, f64)) -> Var<'id> {
        self.tape.push(value, [(self.index, d)])
    }

    #[inline]
    fn binary(self, other: Var<'id>, value: f64, da: f64, db: f64) -> Var<'id> {
        self.tape.push(value, [(self.index, da), (other.index, db)])
    }

    /// $e^x$.
    pub fn exp(self) -> Self {
        self.unary(elementary::exp(self.value))
    }
    /// $\ln x$.
    pub fn ln(self) -> Self {
        self.unary(elementary::ln(self.value))
    }
    /// $\ln(1+x)$.
    pub fn ln_1p(self) -> Self {
        self.unary(elementary::ln_1p(self.value))
    }
    /// $e^x - 1$.
    pub fn exp_m1(self) -> Self {
        self.unary(elementary::exp_m1(self.value))
    }
    /// $\sqrt x$.
    pub fn sqrt(self) -> Self {
        self.unary(elementary::sqrt(self.value))
    }
    /// $x^n$.
    pub fn powi(self, n: i32) -> Self {
        self.unary(elementary::powi(self.value, n))
    }
    /// $\max(x, 0)$, derivative 0 at the kink.
    pub fn relu(self) -> Self {
        self.unary(elementary::relu(self.value))
    }
    /// $|x|$, derivative 0 at 0.
    pub fn abs(self) -> Self {
        self.unary(elementary::abs(self.value))
    }
    /// $\sigma(x)$.
    pub fn sigmoid(self) -> Self {
        self.unary(elementary::sigmoid(self.value))
    }
    /// $\ln(1 + e^x)$, stable.
    pub fn softplus(self) -> Self {
        self.unary(elementary::softplus(self.value))
    }
    /// $\ln\sigma(x)$, stable.
    pub fn log_sigmoid(self) -> Self {
        self.unary(elementary::log_sigmoid(self.value))
    }
}

/// The adjoints of one backward sweep.
pub struct Gradients<'id> {
    adjoint: Vec<f64>,
    _brand: Brand<'id>,
}

impl<'id> Gradients<'id> {
    /// $\partial\\,\text{output}/\partial v$; zero for a variable created after the output.
    pub fn wrt(&self, v: Var<'id>) -> f64 {
        self.adjoint.get(v.index).copied().unwrap_or(0.0)
    }

    /// The gradient with respect to each variable of an array, in the array's shape.
    pub fn wrt_array<S, D>(&self, vs: &ArrayBase<S, D>) -> Array<f64, D>
    where
        S: Data<Elem = Var<'id>>,
        D: Dimension,
    {
        vs.map(|&v| self.wrt(v))
    }

    /// The gradient with respect to each variable of a slice.
    pub fn wrt_slice(&self, vs: &[Var<'id>]) -> Vec<f64> {
        vs.iter().map(|&v| self.wrt(v)).collect()
    }
}

/// Implements a binary operator for `Var ∘ Var`, `Var ∘ f64` and `f64 ∘ Var` from one rule
/// giving `(value, ∂/∂a, ∂/∂b)`.
macro_rules! binary_op {
    ($trait:ident, $method:ident, |$a:ident, $b:ident| $rule:expr) => {
        impl<'id> $trait for Var<'id> {
            type Output = Var<'id>;
            #[inline]
            fn $method(self, rhs: Var<'id>) -> Var<'id> {
                let ($a, $b) = (self.value, rhs.value);
                let (v, da, db): (f64, f64, f64) = $rule;
                self.binary(rhs, v, da, db)
            }
        }
        impl<'id> $trait<f64> for Var<'id> {
            type Output = Var<'id>;
            #[inline]
            fn $method(self, rhs: f64) -> Var<'id> {
                let ($a, $b) = (self.value, rhs);
                let (v, da, _): (f64, f64, f64) = $rule;
                self.unary((v, da))
            }
        }
        impl<'id> $trait<Var<'id>> for f64 {
            type Output = Var<'id>;
            #[inline]
            fn $method(self, rhs: Var<'id>) -> Var<'id> {
                let ($a, $b) = (self, rhs.value);
                let (v, _, db): (f64, f64, f64) = $rule;
                rhs.unary((v, db))
            }
        }
    };
}

binary_op!(Add, add, |a, b| (a + b, 1.0, 1.0));
binary_op!(Sub, sub, |a, b| (a - b, 1.0, -1.0));
binary_op!(Mul, mul, |a, b| (a * b, b, a));
binary_op!(Div, div, |a, b| (a / b, 1.0 / b, -(a / b) / b));

impl<'id> Neg for Var<'id> {
    type Output = Var<'id>;
    #[inline]
    fn neg(self) -> Var<'id> {
        self.unary((-self.value, -1.0))
    }
}
