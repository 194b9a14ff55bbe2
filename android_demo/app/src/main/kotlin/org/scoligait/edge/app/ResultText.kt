package org.scoligait.edge.app

import org.scoligait.edge.core.LiveUpdate
import org.scoligait.edge.core.QualityCheck
import org.scoligait.edge.core.ScreeningResult
import org.scoligait.edge.core.Verdict

/** Text the app shows (presentation only: every number comes from the core). */
object ResultText {
    private fun value(c: QualityCheck): String = when {
        c.value == null -> "–"
        c.name == "tracking" || c.name == "several_people" -> "%.0f%%".format(100 * c.value!!)
        else -> "%.2f".format(c.value)
    }

    fun checks(u: LiveUpdate): String = buildString {
        for (c in u.quality.checks) {
            if (!c.measured && c.name == "several_people") continue
            append(if (c.passed) "✓ " else "✗ ").append(c.label).append("  ").append(value(c)).append('\n')
        }
        append("%d frames · %d windows · %.0f fps".format(u.frames, u.windows, u.cameraFps))
        u.lastWindow?.let { append(" · last window p=%.2f".format(it.referralProb)) }
    }

    fun hint(u: LiveUpdate): String? = u.quality.liveHint(u.frames)?.remedy?.replaceFirstChar { it.uppercase() }

    fun result(r: ScreeningResult): String = buildString {
        when (r.verdict) {
            Verdict.REFER -> append("REFER for an X-ray (Cobb ≥ 10° likely)\n")
            Verdict.NO_REFERRAL -> append("NO REFERRAL\n")
            Verdict.RETAKE -> append("RETAKE — no decision on this footage\n")
        }
        r.decision.referralProb?.let { append("referral probability %.2f (threshold %.2f, mean of %d windows)\n".format(it, r.decision.threshold, r.decision.windows)) }
        for (reason in r.decision.reasons) {
            append("• ").append(QualityCheck.LABELS[reason] ?: reason).append(": ").append(QualityCheck.REMEDIES[reason] ?: "").append('\n')
        }
        r.cobbAngle?.let { append("Cobb estimate %.0f° (a model estimate from gait, not a measurement)\n".format(it)) }
        if (r.verdict != Verdict.RETAKE) {
            r.explanation?.forEach { (domain, rows) ->
                append('\n').append(domain).append(":\n")
                for (f in rows) append("  %s — %.1f%% of attention, %.1f–%.1f s\n".format(f.label, 100 * f.score, f.startSeconds, f.endSeconds))
            }
        }
    }
}
