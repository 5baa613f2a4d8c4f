"""Accessibility checks in the browser: axe-core (vendored) and reflow at 200 % zoom."""

from pathlib import Path

AXE_SOURCE = (Path(__file__).resolve().parent.parent / "webapp" / "static" / "vendor"
              / "axe-core-4.14.1.min.js").read_text()
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
BLOCKING = ("serious", "critical")

# (page or state, [violation, ...]) in the order they were checked; the summary prints it.
RESULTS = []

_RUN_AXE = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: "tag", values: tags},
                                          resultTypes: ["violations"]});
  return result.violations.map(v => ({id: v.id, impact: v.impact,
                                      nodes: v.nodes.map(n => n.target.join(" "))}));
}"""


def check_axe(page, name):
    """Run axe on the page as it is now; no serious or critical violation may remain."""
    page.wait_for_load_state()
    if not page.evaluate("() => Boolean(window.axe)"):
        page.evaluate(AXE_SOURCE)  # evaluate, not a script tag: a CSP cannot block it
    violations = page.evaluate(_RUN_AXE, AXE_TAGS)
    RESULTS.append((name, violations))
    blocking = [v for v in violations if v["impact"] in BLOCKING]
    assert not blocking, f"axe on {name}: {blocking}"


def assert_no_horizontal_scroll(page, name=""):
    """Content reflows: nothing wider than the viewport (WCAG 1.4.10 at 200 % zoom)."""
    widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"{name or page.url} scrolls sideways: {widths}"


def results_table():
    """The axe results as a Markdown table, one row per page or state."""
    lines = ["| page / state | violations (impact: rule × nodes) |", "|---|---|"]
    for name, violations in RESULTS:
        found = ", ".join(f"{v['impact']}: {v['id']} × {len(v['nodes'])}" for v in violations)
        lines.append(f"| {name} | {found or 'none'} |")
    return "\n".join(lines)
