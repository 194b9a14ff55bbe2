package org.scoligait.edge.core

import org.junit.runner.Description
import org.junit.runner.JUnitCore
import org.junit.runner.Request
import org.junit.runner.notification.Failure
import org.junit.runner.notification.RunListener
import kotlin.system.exitProcess

/**
 * Test runner for CI: runs the given JUnit 4 classes (default: every core test class), prints
 * each failure, a table of the largest Kotlin-vs-Python differences, and a closing line
 * `N passed, N failed` (exit status 1 when anything failed).
 */
object TestMain {
    val DEFAULT = listOf(
        "org.scoligait.edge.core.CatalogTest",
        "org.scoligait.edge.core.JsonNpyTest",
        "org.scoligait.edge.core.KnowledgeMapTest",
        "org.scoligait.edge.core.PromptTest",
        "org.scoligait.edge.core.QualityTest",
        "org.scoligait.edge.core.ScreeningTest",
        "org.scoligait.edge.core.ManifestTest",
        "org.scoligait.edge.core.GoldenTest",
        "org.scoligait.edge.core.SilhouetteTest",
        "org.scoligait.edge.core.ResamplerTest",
        "org.scoligait.edge.core.TrackingTest",
        "org.scoligait.edge.core.LiveSessionTest",
        "org.scoligait.edge.core.ort.OrtInferenceTest",
    )

    @JvmStatic
    fun main(args: Array<String>) {
        val names = if (args.isEmpty()) DEFAULT else args.toList()
        val classes = names.mapNotNull { n ->
            try { Class.forName(n) } catch (e: ClassNotFoundException) {
                println("SKIP $n: not compiled (${if (n.contains(".ort.")) "JNA not available" else "missing"})")
                null
            }
        }
        var passed = 0
        var failed = 0
        var skipped = 0
        val core = JUnitCore()
        core.addListener(object : RunListener() {
            private val bad = HashSet<Description>()
            override fun testFailure(failure: Failure) {
                bad += failure.description
                println("FAIL ${failure.description.className.substringAfterLast('.')}.${failure.description.methodName}: ${failure.message?.take(2000)}")
                val trace = failure.trace.lines().filter { "org.scoligait" in it }.take(4)
                trace.forEach { println("     $it") }
            }
            override fun testAssumptionFailure(failure: Failure) {
                bad += failure.description
                skipped++
                println("SKIP ${failure.description.className.substringAfterLast('.')}.${failure.description.methodName}: ${failure.message}")
            }
            override fun testFinished(description: Description) {
                if (description !in bad) {
                    passed++
                    println("ok   ${description.className.substringAfterLast('.')}.${description.methodName}")
                }
            }
        })
        val t0 = System.nanoTime()
        for (c in classes) {
            val r = core.run(Request.aClass(c))
            failed += r.failureCount
        }
        if (Vectors.stats.isNotEmpty()) {
            println("largest differences (Kotlin vs Python):")
            for ((k, v) in Vectors.stats.toSortedMap()) println("  %-44s %.3g".format(k, v))
        }
        println("time %.1f s".format((System.nanoTime() - t0) / 1e9))
        if (skipped > 0) println("$skipped skipped")
        println("$passed passed, $failed failed")
        exitProcess(if (failed == 0) 0 else 1)
    }
}
