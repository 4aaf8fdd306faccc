//! Keeps requests under a rate limit instead of bouncing off it: at most `limit` requests in any
//! sliding `window`.

use std::collections::VecDeque;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// A request rate such as `4/10s`; `0` (or `off`) means unpaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub limit: u32,
    pub window: Duration,
}

impl Rate {
    pub const UNLIMITED: Rate = Rate {
        limit: 0,
        window: Duration::ZERO,
    };
}

impl FromStr for Rate {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s == "0" || s.eq_ignore_ascii_case("off") {
            return Ok(Rate::UNLIMITED);
        }
        let (n, w) = s.split_once('/').ok_or_else(|| {
            format!("{s:?} is not a rate: write requests/window, e.g. 4/10s (or 0 for none)")
        })?;
        let limit: u32 = n
            .trim()
            .parse()
            .map_err(|_| format!("{n:?} in rate {s:?} is not a whole number of requests"))?;
        let window = humantime::parse_duration(w.trim())
            .map_err(|e| format!("{w:?} in rate {s:?} is not a duration such as 10s: {e}"))?;
        if limit == 0 || window.is_zero() {
            return Ok(Rate::UNLIMITED);
        }
        Ok(Rate { limit, window })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.limit == 0 {
            f.write_str("unpaced")
        } else {
            write!(
                f,
                "{}/{}",
                self.limit,
                humantime::format_duration(self.window)
            )
        }
    }
}

/// A sliding-window pacer shared by every request to one rate-limited API.
pub struct Pacer {
    rate: Rate,
    sent: Mutex<VecDeque<Instant>>,
}

impl Pacer {
    pub fn new(rate: Rate) -> Self {
        Pacer {
            rate,
            sent: Mutex::new(VecDeque::new()),
        }
    }

    /// Waits until one more request fits in the window, and counts it.
    pub async fn wait(&self) {
        if self.rate.limit == 0 {
            return;
        }
        loop {
            let wake = {
                let mut sent = self.sent.lock().await;
                let now = Instant::now();
                while sent
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= self.rate.window)
                {
                    sent.pop_front();
                }
                if sent.len() < self.rate.limit as usize {
                    sent.push_back(now);
                    return;
                }
                // Full: the oldest request leaves the window first.
                match sent.front() {
                    Some(oldest) => *oldest + self.rate.window,
                    None => return,
                }
            };
            tokio::time::sleep_until(wake).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rates() {
        assert_eq!(
            "4/10s".parse::<Rate>(),
            Ok(Rate {
                limit: 4,
                window: Duration::from_secs(10)
            })
        );
        assert_eq!("0".parse::<Rate>(), Ok(Rate::UNLIMITED));
        assert!("ten per second".parse::<Rate>().is_err());
        assert!("4/soon".parse::<Rate>().is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn never_exceeds_the_limit_in_any_window() {
        let pacer = Pacer::new(Rate {
            limit: 5,
            window: Duration::from_secs(10),
        });
        let start = Instant::now();
        let mut times = Vec::new();
        for _ in 0..12 {
            pacer.wait().await;
            times.push(start.elapsed());
        }
        for (i, t) in times.iter().enumerate() {
            let in_window = times[i..]
                .iter()
                .filter(|u| **u < *t + Duration::from_secs(10))
                .count();
            assert!(
                in_window <= 5,
                "{in_window} requests in the window starting at {t:?}"
            );
        }
        // Twelve requests at 5 per 10 s need two full windows of waiting, no more.
        assert_eq!(times[11], Duration::from_secs(20));
    }
}
