//! Step learning-rate schedule.

/// A learning rate multiplied by `factor` after each milestone epoch.
///
/// Epochs count from 1. Epoch `e` trains with `base * factor^k`, where `k` is the number of
/// milestones `m < e`: with milestones `[30, 60]`, epochs 1-30 use `base`, 31-60
/// `base * factor` and 61 onwards `base * factor^2`. This is PyTorch's `MultiStepLR` stepped
/// once per epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct StepSchedule {
    pub base: f64,
    pub milestones: Vec<u32>,
    pub factor: f64,
}

impl StepSchedule {
    /// Returns the learning rate of `epoch` (counted from 1).
    pub fn learning_rate(&self, epoch: u32) -> f64 {
        let passed = self.milestones.iter().filter(|&&m| m < epoch).count();
        self.base * self.factor.powi(passed as i32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_decays_after_each_milestone() {
        let schedule = StepSchedule {
            base: 1.0,
            milestones: vec![2, 4],
            factor: 0.5,
        };
        let rates: Vec<f64> = (1..=5).map(|e| schedule.learning_rate(e)).collect();
        assert_eq!(rates, vec![1.0, 1.0, 0.5, 0.5, 0.25]);
    }
}
