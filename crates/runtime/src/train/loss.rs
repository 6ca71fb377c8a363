//! Softmax cross-entropy, PyTorch's `nn.CrossEntropyLoss` (mean over the batch).

use crate::error::{Error, Result};

/// Softmax cross-entropy of `rows` logit rows of `classes` values against `labels`.
///
/// Returns the SUM of the per-row losses `log Σⱼ e^{xⱼ} − x_label` (in f64; the caller divides
/// by the whole batch, so shards of one batch add up exactly as one batch would), and writes
/// `grad = (softmax(x) − onehot(label)) · scale`, the gradient of `scale · Σ loss` w.r.t. the
/// logits (`scale = 1 / batch` gives the mean loss's gradient). Numerically stable: the row
/// maximum is subtracted before `exp`.
///
/// ```
/// use convkit_runtime::train::softmax_cross_entropy;
/// let mut grad = [0.0f32; 3];
/// let loss = softmax_cross_entropy(&[0.0, 0.0, 0.0], &[1], 3, 1.0, &mut grad)?;
/// assert!((loss - 3f64.ln()).abs() < 1e-12);
/// assert!((grad[1] + 2.0 / 3.0).abs() < 1e-7 && (grad[0] - 1.0 / 3.0).abs() < 1e-7);
/// # Ok::<(), convkit_runtime::Error>(())
/// ```
pub fn softmax_cross_entropy(
    logits: &[f32],
    labels: &[u8],
    classes: usize,
    scale: f32,
    grad: &mut [f32],
) -> Result<f64> {
    let n = labels.len();
    if classes == 0 || logits.len() != n * classes || grad.len() != logits.len() {
        return Err(Error::shape(
            "softmax cross-entropy",
            format!("{n}×{classes} logits and gradient"),
            format!("{} logits, {} gradient", logits.len(), grad.len()),
        ));
    }
    let mut total = 0.0f64;
    for ((row, g), &label) in logits
        .chunks_exact(classes)
        .zip(grad.chunks_exact_mut(classes))
        .zip(labels)
    {
        let label = usize::from(label);
        if label >= classes {
            return Err(Error::shape(
                "label",
                format!("a class below {classes}"),
                label.to_string(),
            ));
        }
        let max = row
            .iter()
            .fold(f64::NEG_INFINITY, |m, &x| m.max(f64::from(x)));
        let sum: f64 = row.iter().map(|&x| (f64::from(x) - max).exp()).sum();
        total += sum.ln() + max - f64::from(row[label]);
        for (j, (gj, &x)) in g.iter_mut().zip(row).enumerate() {
            let p = (f64::from(x) - max).exp() / sum;
            let target = if j == label { 1.0 } else { 0.0 };
            *gj = ((p - target) * f64::from(scale)) as f32;
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_logits_do_not_overflow() {
        let mut g = [0.0f32; 2];
        let loss = softmax_cross_entropy(&[1000.0, 0.0], &[1], 2, 0.5, &mut g).unwrap();
        assert!((loss - 1000.0).abs() < 1e-9);
        assert_eq!(g, [0.5, -0.5]);
    }

    #[test]
    fn bad_label_and_length_are_errors() {
        let mut g = [0.0f32; 2];
        assert!(softmax_cross_entropy(&[0.0, 0.0], &[2], 2, 1.0, &mut g).is_err());
        assert!(softmax_cross_entropy(&[0.0], &[0], 2, 1.0, &mut g).is_err());
    }
}
