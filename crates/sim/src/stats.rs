//! Replication statistics: means with Student-t 95% confidence intervals.

use serde::Serialize;

/// Two-sided 95% quantiles of Student's t distribution, t(0.975, df) for df = 1..=30, from
/// the standard published table.
const T975: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
    2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
    2.052, 2.048, 2.045, 2.042,
];

/// t(0.975, df). Beyond the table, the Cornish–Fisher expansion around the normal quantile
/// (error below 1e-3 from df = 31 on).
pub fn t975(df: usize) -> f64 {
    match df {
        0 => f64::INFINITY,
        1..=30 => T975[df - 1],
        _ => {
            let z: f64 = 1.959_963_985;
            let n = df as f64;
            z + (z.powi(3) + z) / (4.0 * n)
                + (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / (96.0 * n * n)
        }
    }
}

/// The mean of independent replications and the half-width of its 95% confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    /// Mean over replications.
    pub mean: f64,
    /// Half-width of the 95% confidence interval (t-based; infinite with one replication).
    pub ci95: f64,
    /// Standard error of the mean.
    pub std_error: f64,
}

impl Estimate {
    /// Summarises one value per replication. Replications where the value is undefined
    /// (NaN, e.g. no answered contact) are left out.
    pub fn of(values: &[f64]) -> Estimate {
        let xs: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        let n = xs.len();
        if n == 0 {
            return Estimate {
                mean: f64::NAN,
                ci95: f64::NAN,
                std_error: f64::NAN,
            };
        }
        let mean = xs.iter().sum::<f64>() / n as f64;
        if n == 1 {
            return Estimate {
                mean,
                ci95: f64::INFINITY,
                std_error: f64::INFINITY,
            };
        }
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let std_error = (var / n as f64).sqrt();
        Estimate {
            mean,
            ci95: t975(n - 1) * std_error,
            std_error,
        }
    }
}

/// A ratio that is undefined (NaN) when its denominator is zero.
pub fn ratio(num: f64, den: f64) -> f64 {
    if den > 0.0 { num / den } else { f64::NAN }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_quantiles_match_the_table_and_approach_normal() {
        assert_eq!(t975(9), 2.262);
        assert!((t975(40) - 2.021).abs() < 1e-3);
        assert!((t975(120) - 1.980).abs() < 1e-3);
        assert!((t975(100_000) - 1.96).abs() < 1e-3);
    }

    #[test]
    fn estimate_of_known_sample() {
        let e = Estimate::of(&[1.0, 2.0, 3.0, 4.0, f64::NAN]);
        assert_eq!(e.mean, 2.5);
        // s = sqrt(5/3), se = s / 2, t(3) = 3.182
        assert!((e.std_error - (5.0f64 / 3.0).sqrt() / 2.0).abs() < 1e-12);
        assert!((e.ci95 - 3.182 * e.std_error).abs() < 1e-12);
        assert!(Estimate::of(&[]).mean.is_nan());
    }
}
