// Lighthouse over pages of a site, for tests/test_lighthouse.py: one JSON line per run.
//
//   node tests/lighthouse/run.mjs PLAN.json
//
// PLAN: {"port": <Chromium's remote-debugging port>, "blocked": [url patterns],
//        "pages": [{"url": ..., "skipAudits": [...]}], "presets": ["mobile", "desktop"],
//        "categories": [...] (optional: these categories only; default all four)}
// Each line: {"url", "preset", "scores": {category: 0..100}, "tbt": Total Blocking Time in ms,
// "failed": [{category, id, title, score, displayValue}], "seconds"}. Chromium is started and
// stopped by the caller.
import {readFileSync} from 'node:fs';

import lighthouse from 'lighthouse';
import defaultConfig from 'lighthouse/core/config/default-config.js';
import desktopConfig from 'lighthouse/core/config/desktop-config.js';

const plan = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const configs = {mobile: undefined, desktop: desktopConfig};  // undefined: Lighthouse's default

// Only the audits that weigh in a category's score run (desktop's config extends the default
// one and keeps its categories). A score is the weighted mean of its audits, so it is the
// same without the weight-0 diagnostics, which the test never reads and whose gatherers cost
// seconds a run (bf-cache's navigates away from the page and back).
function scoringAudits(categories) {
  return categories.flatMap(id =>
    defaultConfig.categories[id].auditRefs.filter(ref => ref.weight > 0).map(ref => ref.id));
}
const scoring = scoringAudits(plan.categories ?? Object.keys(defaultConfig.categories));

function failedAudits(lhr) {
  const failed = [];
  for (const category of Object.values(lhr.categories)) {
    for (const ref of category.auditRefs) {
      const audit = lhr.audits[ref.id];
      // Audits that count towards the score and did not fully pass.
      if (ref.weight > 0 && audit.score !== null && audit.score < 1) {
        failed.push({
          category: category.id,
          id: audit.id,
          title: audit.title,
          score: audit.score,
          displayValue: audit.displayValue || '',
        });
      }
    }
  }
  return failed;
}

for (const preset of plan.presets) {
  for (const page of plan.pages) {
    const started = Date.now();
    const flags = {
      port: plan.port,
      output: 'json',
      logLevel: 'error',
      blockedUrlPatterns: plan.blocked,
      onlyAudits: scoring.filter(id => !page.skipAudits.includes(id)),
      // The full-page screenshot is for the HTML report only: seconds a run, no score.
      disableFullPageScreenshot: true,
    };
    const result = await lighthouse(page.url, flags, configs[preset]);
    const lhr = result.lhr;
    const scores = {};
    for (const [id, category] of Object.entries(lhr.categories)) {
      scores[id] = category.score === null ? null : Math.round(category.score * 100);
    }
    const line = {
      url: page.url,
      preset,
      scores,
      tbt: lhr.audits['total-blocking-time']?.numericValue ?? null,
      failed: failedAudits(lhr),
      runtimeError: lhr.runtimeError ? lhr.runtimeError.message : null,
      seconds: (Date.now() - started) / 1000,
    };
    process.stdout.write(JSON.stringify(line) + '\n');
  }
}
