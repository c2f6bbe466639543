use super::*;
use crate::sections::{Better, CheckSpec, Tolerance};

#[test]
fn verdicts_follow_direction_and_tolerance() {
    let spec = CheckSpec {
        metrics: [
            (
                "lat".to_string(),
                Tolerance {
                    better: Better::Lower,
                    abs: 0.0,
                    rel: 0.05,
                },
            ),
            (
                "del".to_string(),
                Tolerance {
                    better: Better::Higher,
                    abs: 0.0,
                    rel: 0.0,
                },
            ),
        ]
        .into_iter()
        .collect(),
    };
    let k = |m: &str| ("p".to_string(), m.to_string());
    let base: BTreeMap<_, _> = [(k("lat"), Value::Num(100.0)), (k("del"), Value::Num(1.0))]
        .into_iter()
        .collect();
    let verdict = |lat: f64, del: f64| {
        let now: BTreeMap<_, _> = [(k("lat"), Value::Num(lat)), (k("del"), Value::Num(del))]
            .into_iter()
            .collect();
        compare(&spec, &base, &now)
            .into_iter()
            .map(|r| r.verdict)
            .collect::<Vec<_>>()
    };
    assert_eq!(verdict(100.0, 1.0), vec![Verdict::Same, Verdict::Same]);
    assert_eq!(
        verdict(104.0, 1.0),
        vec![Verdict::Same, Verdict::WithinTolerance]
    );
    assert_eq!(
        verdict(106.0, 0.99),
        vec![Verdict::Regression, Verdict::Regression]
    );
    assert_eq!(verdict(90.0, 1.0), vec![Verdict::Same, Verdict::Improved]);
}

#[test]
fn never_is_worse_than_any_time_and_n_a_compares_only_with_n_a() {
    let spec = CheckSpec {
        metrics: [(
            "convergence_s".to_string(),
            Tolerance {
                better: Better::Lower,
                abs: 0.0,
                rel: 0.5,
            },
        )]
        .into_iter()
        .collect(),
    };
    let verdict = |b: Value, v: Value| {
        let key = || ("p".to_string(), "convergence_s".to_string());
        let base: BTreeMap<_, _> = [(key(), b)].into_iter().collect();
        let now: BTreeMap<_, _> = [(key(), v)].into_iter().collect();
        compare(&spec, &base, &now)[0].verdict
    };
    use Value::{Never, NotApplicable, Num};
    assert_eq!(verdict(Num(1.0), Never), Verdict::Regression);
    assert_eq!(verdict(Num(1000.0), Never), Verdict::Regression);
    assert_eq!(verdict(Never, Num(1000.0)), Verdict::Improved);
    assert_eq!(verdict(Never, Never), Verdict::Same);
    assert_eq!(verdict(NotApplicable, NotApplicable), Verdict::Same);
    assert_eq!(verdict(NotApplicable, Num(1.0)), Verdict::NotComparable);
    assert_eq!(verdict(Num(1.0), NotApplicable), Verdict::NotComparable);
    // A seed that never converged makes its point never converge.
    assert_eq!(mean(&[Num(1.0), Never, Num(3.0)]), Never);
    assert_eq!(mean(&[Num(1.0), NotApplicable, Num(3.0)]), Num(2.0));
    assert_eq!(mean(&[NotApplicable, NotApplicable]), NotApplicable);
    let never_row = compare(
        &spec,
        &[(("p".into(), "convergence_s".into()), Num(1.0))].into(),
        &[(("p".into(), "convergence_s".into()), Never)].into(),
    );
    let table = text_table(&never_row);
    assert!(table.contains("never") && !table.contains('%') && !table.contains("-1"));
}

#[test]
fn runs_code_never_and_not_applicable_as_words() {
    let mut s = models::RunSummary {
        convergence_s: -1.0,
        delivery_recovered_s: 2.5,
        attacker_delivery_ratio: -1.0,
        ..Default::default()
    };
    let get = |s: &models::RunSummary, m: &str| {
        run_values(s)
            .into_iter()
            .find(|(k, _)| *k == m)
            .map(|(_, v)| v)
    };
    assert_eq!(get(&s, "convergence_s"), Some(Value::Never));
    assert_eq!(get(&s, "delivery_recovered_s"), Some(Value::Num(2.5)));
    assert_eq!(
        get(&s, "attacker_delivery_ratio"),
        Some(Value::NotApplicable)
    );
    // No return or healing: sync convergence does not apply; one that
    // did not converge: never.
    assert_eq!(get(&s, "sync_convergence_s"), Some(Value::NotApplicable));
    s.convergence = vec![Default::default()];
    assert_eq!(get(&s, "sync_convergence_s"), Some(Value::Never));
    assert_eq!(get(&s, "sync_convergence_max_s"), Some(Value::Never));
    s.sync_convergence_s = Some(4.0);
    assert_eq!(get(&s, "sync_convergence_s"), Some(Value::Num(4.0)));
}
