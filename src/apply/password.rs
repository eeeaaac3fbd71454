//! Random initial passwords for new accounts. Nobody sees them, and password hash sync replaces
//! the cloud password with the AD one at the first sync (how-to-connect-install-existing-tenant),
//! so the user of such an account is locked out of the cloud until an admin resets it (the plan's
//! `password` forecast says so for each).

use rand::Rng;
use rand::seq::SliceRandom;

const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
const DIGIT: &[u8] = b"23456789";
const SYMBOL: &[u8] = b"!#%+-.=@^_~";

/// 24 characters with every class AD's and Entra's complexity rules ask for.
pub fn random_password() -> String {
    let mut rng = rand::rng();
    let all: Vec<u8> = [UPPER, LOWER, DIGIT, SYMBOL].concat();
    let mut chars: Vec<u8> = [UPPER, LOWER, DIGIT, SYMBOL]
        .iter()
        .map(|set| set[rng.random_range(0..set.len())])
        .collect();
    while chars.len() < 24 {
        chars.push(all[rng.random_range(0..all.len())]);
    }
    chars.shuffle(&mut rng);
    // Cannot fail: every character comes from the ASCII alphabet above.
    String::from_utf8(chars).expect("ASCII")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn has_every_class_and_differs_each_time() {
        let p = random_password();
        assert_eq!(p.len(), 24);
        for set in [UPPER, LOWER, DIGIT, SYMBOL] {
            assert!(p.bytes().any(|b| set.contains(&b)), "{p}");
        }
        assert_ne!(p, random_password());
    }
}
