//! A sliding-window rate limiter keyed by text (an account, a client address). Pure: the
//! caller passes the time, so limits are tested without waiting. Memory is bounded: past
//! `max_keys`, the key idle the longest is forgotten.

use std::collections::{HashMap, VecDeque};

/// At most `limit` events per `window_seconds` for each key.
#[derive(Debug)]
pub struct RateLimiter {
    limit: usize,
    window_seconds: i64,
    max_keys: usize,
    events: HashMap<String, VecDeque<i64>>,
}

impl RateLimiter {
    pub fn new(limit: usize, window_seconds: i64, max_keys: usize) -> RateLimiter {
        RateLimiter {
            limit: limit.max(1),
            window_seconds: window_seconds.max(1),
            max_keys: max_keys.max(1),
            events: HashMap::new(),
        }
    }

    /// Records an event for `key` at `now` (seconds) if the key is under its limit;
    /// otherwise returns how many seconds to wait (for `Retry-After`) and records nothing.
    pub fn attempt(&mut self, key: &str, now: i64) -> Result<(), i64> {
        let window_start = now - self.window_seconds;
        if let Some(times) = self.events.get_mut(key) {
            while times.front().is_some_and(|t| *t <= window_start) {
                times.pop_front();
            }
            if times.len() >= self.limit {
                let oldest = *times.front().expect("at the limit, so not empty");
                return Err((oldest + self.window_seconds - now).max(1));
            }
            times.push_back(now);
            return Ok(());
        }
        if self.events.len() >= self.max_keys {
            self.forget_idlest();
        }
        self.events.insert(key.to_string(), VecDeque::from([now]));
        Ok(())
    }

    /// Forgets a key's events (after a successful login, for example).
    pub fn reset(&mut self, key: &str) {
        self.events.remove(key);
    }

    fn forget_idlest(&mut self) {
        let idlest = self
            .events
            .iter()
            .min_by_key(|(_, times)| times.back().copied().unwrap_or(i64::MIN))
            .map(|(k, _)| k.clone());
        if let Some(key) = idlest {
            self.events.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_key_within_the_window() {
        let mut limiter = RateLimiter::new(3, 60, 100);
        for t in 0..3 {
            assert_eq!(limiter.attempt("leo", t), Ok(()));
        }
        assert_eq!(limiter.attempt("leo", 10), Err(50), "retry when the oldest leaves the window");
        assert_eq!(limiter.attempt("mia", 10), Ok(()), "other keys are independent");
        assert_eq!(limiter.attempt("leo", 60), Ok(()), "the first event left the window");
        limiter.reset("leo");
        assert_eq!(limiter.attempt("leo", 61), Ok(()));
    }

    #[test]
    fn memory_is_bounded() {
        let mut limiter = RateLimiter::new(1, 60, 2);
        limiter.attempt("a", 0).unwrap();
        limiter.attempt("b", 1).unwrap();
        limiter.attempt("c", 2).unwrap();
        assert_eq!(limiter.events.len(), 2);
        assert!(!limiter.events.contains_key("a"), "the idlest key was forgotten");
    }
}
