//! An owned, contiguous f32 tensor (NCHW for images) and its shape.

use crate::error::{Error, Result};
use std::fmt;

/// Largest rank a [`Shape`] holds (N, C, H, W).
pub const MAX_RANK: usize = 4;

/// A tensor shape of rank 1 to 4, stored inline (no heap), outermost dimension first.
/// Every dimension is at least 1 and the element count fits in `usize`.
///
/// ```
/// use convkit_runtime::Shape;
/// let s = Shape::new(&[8, 1, 28, 28])?;
/// assert_eq!((s.rank(), s.batch(), s.numel(), s.item_len()), (4, 8, 6272, 784));
/// # Ok::<(), convkit_runtime::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shape {
    dims: [usize; MAX_RANK],
    rank: usize,
}

impl Shape {
    /// A shape from its dimensions; rank 1..=4, no zero dimension, no overflow.
    pub fn new(dims: &[usize]) -> Result<Shape> {
        if dims.is_empty() || dims.len() > MAX_RANK {
            return Err(Error::shape(
                "tensor shape",
                "rank 1 to 4",
                format!("rank {}", dims.len()),
            ));
        }
        if dims.contains(&0) {
            return Err(Error::shape(
                "tensor shape",
                "no zero dimension",
                format!("{dims:?}"),
            ));
        }
        dims.iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or_else(|| {
                Error::kernel(
                    format!("tensor shape {dims:?}"),
                    convkit_kernels::Error::Overflow {
                        what: "tensor element count",
                    },
                )
            })?;
        let mut d = [1; MAX_RANK];
        d[..dims.len()].copy_from_slice(dims);
        Ok(Shape {
            dims: d,
            rank: dims.len(),
        })
    }

    /// An `N×C×H×W` shape.
    pub fn nchw(n: usize, c: usize, h: usize, w: usize) -> Result<Shape> {
        Shape::new(&[n, c, h, w])
    }

    /// The dimensions.
    pub fn dims(&self) -> &[usize] {
        &self.dims[..self.rank]
    }

    /// Number of dimensions.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// The first dimension (the batch size).
    pub fn batch(&self) -> usize {
        self.dims[0]
    }

    /// Total element count.
    pub fn numel(&self) -> usize {
        self.dims().iter().product()
    }

    /// Elements per batch item (the product of all but the first dimension).
    pub fn item_len(&self) -> usize {
        self.dims()[1..].iter().product()
    }

    /// The same shape with another batch size.
    pub fn with_batch(&self, batch: usize) -> Result<Shape> {
        let mut d = self.dims;
        d[0] = batch;
        Shape::new(&d[..self.rank])
    }

    /// `(C, H, W)` of a rank-4 shape; `context` names the caller in the error.
    pub fn chw(&self, context: &str) -> Result<(usize, usize, usize)> {
        match *self.dims() {
            [_, c, h, w] => Ok((c, h, w)),
            _ => Err(Error::shape(context, "an N×C×H×W tensor", self.to_string())),
        }
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.dims().iter().enumerate() {
            if i > 0 {
                f.write_str("×")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Shape({self})")
    }
}

/// An owned contiguous f32 tensor, row-major (NCHW for images).
///
/// ```
/// use convkit_runtime::Tensor;
/// let t = Tensor::new(&[2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0])?;
/// assert_eq!(t.shape().dims(), &[2, 3]);
/// assert!(Tensor::new(&[2, 3], vec![0.0; 5]).is_err());
/// # Ok::<(), convkit_runtime::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    shape: Shape,
    data: Vec<f32>,
}

impl Tensor {
    /// A tensor from a shape and its data; the data length must equal the element count.
    pub fn new(dims: &[usize], data: Vec<f32>) -> Result<Tensor> {
        Tensor::from_shape(Shape::new(dims)?, data)
    }

    /// A tensor from a [`Shape`] and its data.
    pub fn from_shape(shape: Shape, data: Vec<f32>) -> Result<Tensor> {
        if data.len() != shape.numel() {
            return Err(Error::shape(
                format!("tensor of shape {shape}"),
                format!("{} elements", shape.numel()),
                format!("{} elements", data.len()),
            ));
        }
        Ok(Tensor { shape, data })
    }

    /// A tensor of zeros.
    pub fn zeros(dims: &[usize]) -> Result<Tensor> {
        let shape = Shape::new(dims)?;
        Ok(Tensor {
            shape,
            data: vec![0.0; shape.numel()],
        })
    }

    /// The shape.
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// The elements, row-major.
    pub fn data(&self) -> &[f32] {
        &self.data
    }

    /// The elements, mutable.
    pub fn data_mut(&mut self) -> &mut [f32] {
        &mut self.data
    }

    /// The elements of batch item `n`, or `None` if out of range.
    pub fn item(&self, n: usize) -> Option<&[f32]> {
        let len = self.shape.item_len();
        self.data.get(n * len..(n + 1) * len)
    }

    /// Items `start..end` as a new tensor, or a shape error if the range is empty or too long.
    pub fn slice_batch(&self, start: usize, end: usize) -> Result<Tensor> {
        if start >= end || end > self.shape.batch() {
            return Err(Error::shape(
                "batch slice",
                format!("a non-empty range within 0..{}", self.shape.batch()),
                format!("{start}..{end}"),
            ));
        }
        let len = self.shape.item_len();
        Tensor::from_shape(
            self.shape.with_batch(end - start)?,
            self.data[start * len..end * len].to_vec(),
        )
    }

    /// The same data with another shape of equal element count.
    pub fn reshape(self, dims: &[usize]) -> Result<Tensor> {
        Tensor::from_shape(Shape::new(dims)?, self.data)
    }

    /// Consumes the tensor, returning its data.
    pub fn into_vec(self) -> Vec<f32> {
        self.data
    }
}

/// A borrowed view of a tensor (what [`crate::Sequential::forward`] returns: the output lives
/// in the model's planned buffers).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TensorRef<'a> {
    shape: Shape,
    data: &'a [f32],
}

impl<'a> TensorRef<'a> {
    /// A view; the data length must equal the element count.
    pub fn new(shape: Shape, data: &'a [f32]) -> Result<TensorRef<'a>> {
        if data.len() != shape.numel() {
            return Err(Error::shape(
                format!("tensor view of shape {shape}"),
                format!("{} elements", shape.numel()),
                format!("{} elements", data.len()),
            ));
        }
        Ok(TensorRef { shape, data })
    }

    /// The shape.
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// The elements.
    pub fn data(&self) -> &'a [f32] {
        self.data
    }

    /// The elements of batch item `n`, or `None` if out of range.
    pub fn item(&self, n: usize) -> Option<&'a [f32]> {
        let len = self.shape.item_len();
        self.data.get(n * len..(n + 1) * len)
    }

    /// Copies into an owned tensor.
    pub fn to_tensor(&self) -> Tensor {
        Tensor {
            shape: self.shape,
            data: self.data.to_vec(),
        }
    }
}

impl<'a> From<&'a Tensor> for TensorRef<'a> {
    fn from(t: &'a Tensor) -> TensorRef<'a> {
        TensorRef {
            shape: t.shape,
            data: &t.data,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_checks() {
        assert!(Shape::new(&[]).is_err());
        assert!(Shape::new(&[1, 2, 3, 4, 5]).is_err());
        assert!(Shape::new(&[3, 0]).is_err());
        assert!(Shape::new(&[usize::MAX, 2]).is_err());
        let s = Shape::new(&[2, 3, 4]).unwrap();
        assert_eq!(s.to_string(), "2×3×4");
        assert_eq!(s.with_batch(5).unwrap().dims(), &[5, 3, 4]);
        assert!(s.chw("x").is_err());
    }

    #[test]
    fn tensor_slicing() {
        let t = Tensor::new(&[3, 2], (0..6).map(|x| x as f32).collect()).unwrap();
        assert_eq!(t.item(1).unwrap(), &[2.0, 3.0]);
        assert!(t.item(3).is_none());
        let s = t.slice_batch(1, 3).unwrap();
        assert_eq!(s.data(), &[2.0, 3.0, 4.0, 5.0]);
        assert!(t.slice_batch(2, 2).is_err());
        assert!(t.slice_batch(0, 4).is_err());
        assert!(t.clone().reshape(&[6]).is_ok());
        assert!(t.reshape(&[5]).is_err());
    }
}
