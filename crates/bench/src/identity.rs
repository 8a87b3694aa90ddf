//! Identity's costs: verifying an access token in another service, and logging in with a password.

use std::time::Instant;

use terrace_platform::auth::{Role, Verifier};
use terrace_testkit::tokens::TestIssuer;

use crate::measure::Measurement;

/// Verifications per second on one core: `distinct` tokens (each verified for the first time: an
/// Ed25519 signature check) and one token presented again and again (the verifier's cache).
#[derive(Debug)]
pub(crate) struct Verification {
    pub(crate) first_sight: Measurement,
    pub(crate) repeated: Measurement,
}

/// Tokens are made by the test issuer with the same algorithm, header and claims identity uses;
/// the verifier reads the key set from memory, as a service does after its one fetch of the JWKS,
/// so no verification touches the network.
pub(crate) async fn verification(tokens: usize) -> anyhow::Result<Verification> {
    let issuer = TestIssuer::new();
    let verifier = Verifier::new(&issuer.auth_settings(), issuer.key_source());
    let grants = [(Role::Farmer, "110101001001")];
    let distinct: Vec<String> = (0..tokens)
        .map(|i| issuer.token(&format!("user-{i}"), &grants))
        .collect();
    verifier.verify(&distinct[0]).await?;

    let started = Instant::now();
    let mut latencies = Vec::with_capacity(tokens);
    for token in &distinct {
        let start = Instant::now();
        verifier.verify(token).await?;
        latencies.push(start.elapsed());
    }
    latencies.sort_unstable();
    let first_sight = Measurement {
        ops: tokens,
        elapsed: started.elapsed(),
        latencies,
    };

    let started = Instant::now();
    let mut latencies = Vec::with_capacity(tokens);
    for _ in 0..tokens {
        let start = Instant::now();
        verifier.verify(&distinct[1]).await?;
        latencies.push(start.elapsed());
    }
    latencies.sort_unstable();
    let repeated = Measurement {
        ops: tokens,
        elapsed: started.elapsed(),
        latencies,
    };
    Ok(Verification {
        first_sight,
        repeated,
    })
}

/// argon2id verifications (what a password login costs) on one core.
pub(crate) fn password_checks(count: usize) -> anyhow::Result<Measurement> {
    let hash = terrace_identity::domain::password::hash("correct horse battery")?;
    let started = Instant::now();
    let mut latencies = Vec::with_capacity(count);
    for _ in 0..count {
        let start = Instant::now();
        anyhow::ensure!(terrace_identity::domain::password::verify(
            "correct horse battery",
            &hash
        ));
        latencies.push(start.elapsed());
    }
    latencies.sort_unstable();
    Ok(Measurement {
        ops: count,
        elapsed: started.elapsed(),
        latencies,
    })
}
