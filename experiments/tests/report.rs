//! `report.html`: references every plot that exists (and nothing that does
//! not), shows the experiment, metadata and one summary row per point, needs
//! no network; and, where Debian's Chromium is installed, renders headless
//! with every image loaded.

mod plot_fixtures;

use meshsim::plot::plot_dir;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `src="..."` and `href="..."` values of a page.
fn attrs(html: &str, attr: &str) -> Vec<String> {
    let pat = format!("{attr}=\"");
    html.match_indices(&pat)
        .map(|(i, _)| {
            let rest = &html[i + pat.len()..];
            rest[..rest.find('"').unwrap()].to_string()
        })
        .collect()
}

fn plot_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir.join("plots"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn check_report(dir: &Path, name: &str, points: usize) -> String {
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    let files = plot_files(dir);
    assert!(!files.is_empty());
    for f in &files {
        assert!(
            html.contains(&format!("\"plots/{f}\"")),
            "report.html references plots/{f}"
        );
    }
    let imgs = attrs(&html, "src");
    assert_eq!(
        imgs.len() * 2,
        files.len(),
        "one <img> per plot (SVG; PNG linked)"
    );
    for link in imgs.iter().chain(&attrs(&html, "href")) {
        if let Some(anchor) = link.strip_prefix('#') {
            assert!(html.contains(&format!("id=\"{anchor}\"")), "anchor {link}");
            continue;
        }
        assert!(
            !link.contains("://"),
            "no network or absolute links: {link}"
        );
        assert!(dir.join(link).is_file(), "{link} exists");
    }
    assert!(!html.contains("<script"), "static page, no script");
    assert!(html.contains(&format!("<h1>meshsim report: {name}</h1>")));
    assert!(
        html.contains("# &lt;not a tag&gt; &amp; friends"),
        "experiment.toml shown, escaped"
    );
    assert!(
        html.contains("&quot;git_commit&quot;: &quot;abc123&quot;"),
        "meta.json shown"
    );
    let summary = &html[html.find("id=\"summary\"").unwrap()..html.find("id=\"plots\"").unwrap()];
    assert_eq!(
        summary.matches("<tr>").count(),
        1 + points,
        "summary: header + one row per point"
    );
    html
}

#[test]
fn report_references_every_plot_single_and_sweep() {
    let (dir, runs) = plot_fixtures::single("report-single");
    plot_dir(&dir).unwrap();
    let html = check_report(&dir, "quick", runs.len());
    for r in &runs {
        assert!(html.contains(&format!("<td class=\"l\">{}</td>", r.run_id)));
    }

    let (dir, _) = plot_fixtures::sweep("report-sweep");
    plot_dir(&dir).unwrap();
    let points = plot_fixtures::MESH_N.len() * plot_fixtures::MAX_MS.len();
    let html = check_report(&dir, "sweep", points);
    // Mean over the 3 seeds of one point, as in the summary table.
    let (n, _) = plot_fixtures::MESH_N[2];
    let m = plot_fixtures::MAX_MS[0];
    let mean = plot_fixtures::SEEDS
        .iter()
        .map(|&s| plot_fixtures::sweep_delivery(n, m, s))
        .sum::<f64>()
        / 3.0;
    assert!(html.contains(&format!("<td>{}</td>", meshsim::plot::fmt_value(mean))));
    assert!(
        html.contains("gossipsub.mesh_n_low"),
        "zipped parameter shown"
    );
}

const CHROMIUM: &str = "/usr/bin/chromium";

/// Runs headless Chromium on `page` with `args`; returns (success, stdout).
fn chromium(page: &Path, profile: &Path, args: &[String]) -> (bool, String, String) {
    let out = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A test-only copy of the report with a probe that lists images that did
/// not load (the report itself has no script).
fn probe_copy(dir: &Path, html: &str, name: &str) -> PathBuf {
    const PROBE: &str = r#"<script>window.addEventListener("load",function(){var im=document.images,ok=0,bad=[];for(var i=0;i<im.length;i++){if(im[i].complete&&im[i].naturalWidth>0)ok++;else bad.push(im[i].getAttribute("src"));}var p=document.createElement("pre");p.id="probe";p.textContent="loaded "+ok+" of "+im.length+" broken ["+bad.join(" ")+"]";document.body.appendChild(p);});</script></body>"#;
    let p = dir.join(name);
    std::fs::write(&p, html.replace("</body>", PROBE)).unwrap();
    p
}

fn probe_line(dom: &str) -> String {
    let i = dom.find("<pre id=\"probe\">").expect("probe ran") + "<pre id=\"probe\">".len();
    dom[i..i + dom[i..].find('<').unwrap()].to_string()
}

#[test]
fn report_renders_in_headless_chromium() {
    if !Path::new(CHROMIUM).exists() {
        eprintln!("note: {CHROMIUM} not installed (apt-get install -y chromium); skipping the headless browser check");
        return;
    }
    let (dir, _) = plot_fixtures::sweep("report-chromium");
    let plots = plot_dir(&dir).unwrap();
    let page = dir.join("report.html");
    let html = std::fs::read_to_string(&page).unwrap();
    let profile = dir.join("chromium-profile");

    // The DOM has every plot's <img>.
    let (ok, dom, err) = chromium(&page, &profile, &["--dump-dom".into()]);
    assert!(ok, "chromium --dump-dom failed: {err}");
    for p in &plots {
        assert!(
            dom.contains(&format!("<img src=\"plots/{}.svg\"", p.name)),
            "DOM has <img> for {}",
            p.name
        );
    }

    // Every image actually loads (probe copy of the page).
    let args = [
        "--virtual-time-budget=5000".to_string(),
        "--dump-dom".into(),
    ];
    let (ok, dom, err) = chromium(&probe_copy(&dir, &html, "probe.html"), &profile, &args);
    assert!(ok, "{err}");
    let n = plots.len();
    assert_eq!(probe_line(&dom), format!("loaded {n} of {n} broken []"));
    // Negative control: a missing plot is caught.
    let broken = html.replace("plots/latency_cdf.svg\"", "plots/missing.svg\"");
    let (ok, dom, err) = chromium(&probe_copy(&dir, &broken, "broken.html"), &profile, &args);
    assert!(ok, "{err}");
    assert_eq!(
        probe_line(&dom),
        format!("loaded {} of {n} broken [plots/missing.svg]", n - 1)
    );

    // A screenshot: a decodable PNG that is not blank.
    let shot = dir.join("screenshot.png");
    let (ok, _, err) = chromium(
        &page,
        &profile,
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1200,2000".into(),
        ],
    );
    assert!(ok, "chromium --screenshot failed: {err}");
    let bytes = std::fs::read(&shot).unwrap();
    let mut rd = png::Decoder::new(std::io::Cursor::new(&bytes))
        .read_info()
        .unwrap();
    let mut buf = vec![0; rd.output_buffer_size()];
    let info = rd.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (1200, 2000));
    let step = info.color_type.samples();
    let px = &buf[..info.buffer_size()];
    let dark = px
        .chunks(step)
        .filter(|p| p[..3].iter().all(|c| *c < 80))
        .count();
    let colored = px
        .chunks(step)
        .filter(|p| {
            let (mx, mn) = (p[..3].iter().max().unwrap(), p[..3].iter().min().unwrap());
            mx - mn > 80
        })
        .count();
    assert!(dark > 5_000, "text rendered ({dark} dark px)");
    assert!(
        colored > 1_000,
        "plot curves rendered ({colored} colored px)"
    );
    eprintln!("screenshot: {}", shot.display());
}

/// Runs `meshsim` in `cwd` (default output folders are relative to it).
fn meshsim_in(cwd: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_meshsim"))
        .current_dir(cwd)
        .args(args)
        .output()
        .expect("run meshsim")
}

/// Every plot of `dir` loads in headless Chromium (when installed).
fn renders_every_plot(dir: &Path) {
    let n = plot_files(dir).len() / 2;
    assert!(n >= 2, "plots drawn in {}", dir.display());
    if !Path::new(CHROMIUM).exists() {
        return;
    }
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    let args = [
        "--virtual-time-budget=5000".to_string(),
        "--dump-dom".into(),
    ];
    let profile = dir.join("chromium-profile");
    let (ok, dom, err) = chromium(&probe_copy(dir, &html, "probe.html"), &profile, &args);
    assert!(ok, "{err}");
    assert_eq!(probe_line(&dom), format!("loaded {n} of {n} broken []"));
}

#[test]
fn a_plain_run_and_a_plain_sweep_leave_plots_and_a_report() {
    let cwd = std::env::temp_dir().join(format!("meshsim-report-plain-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&cwd);
    std::fs::create_dir_all(&cwd).unwrap();
    let o = meshsim_in(&cwd, &["run"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    let dir = cwd.join("results").join("quickstart");
    assert!(
        stdout.contains(&format!(
            "report                {}",
            Path::new("results/quickstart/report.html").display()
        )),
        "says where the report is: {stdout}"
    );
    renders_every_plot(&dir);

    let ci = Path::new(env!("CARGO_MANIFEST_DIR")).join("ci.toml");
    let o = meshsim_in(&cwd, &["sweep", ci.to_str().unwrap(), "--jobs", "2"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    // The compact table: a header and one row per point, then the report.
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with("point  gossipsub.mesh_n_low"),
        "{stdout}"
    );
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with(char::is_numeric))
            .count(),
        3,
        "{stdout}"
    );
    assert!(stdout.contains("results/ci/report.html"), "{stdout}");
    renders_every_plot(&cwd.join("results").join("ci"));

    // --no-plots leaves none.
    let o = meshsim_in(&cwd, &["run", "--out", "bare", "--no-plots"]);
    assert!(o.status.success());
    assert!(!cwd.join("bare/plots").exists() && !cwd.join("bare/report.html").exists());
    let _ = std::fs::remove_dir_all(&cwd);
}
