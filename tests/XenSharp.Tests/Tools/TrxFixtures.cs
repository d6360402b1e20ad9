namespace XenSharp.Tests.Tools;

/// <summary>
/// Small TRX files as `dotnet test --logger trx` writes them with xunit (each result's attributes on its start tag's
/// line, a skip's reason in its ErrorInfo Message), trimmed to what tools/trx-count reads. Their Counters lie the way
/// real ones do: xunit's skips are not in notExecuted.
/// </summary>
public static class TrxFixtures
{
    /// <summary>2 passed, 1 failed, 2 skipped (two reasons); the Counters say 5 passed, 0 failed, 0 not executed.</summary>
    public const string Mixed = """
        <?xml version="1.0" encoding="utf-8"?>
        <TestRun id="1" name="fixture" xmlns="http://microsoft.com/schemas/VisualStudio/TeamTest/2010">
          <Results>
            <UnitTestResult executionId="a1" testId="t1" testName="Demo.Tests.Adds(a: 1, b: &quot;two&quot;)" outcome="Passed" duration="00:00:00.01" />
            <UnitTestResult executionId="a2" testId="t2" testName="Demo.Tests.Boots" outcome="NotExecuted" duration="00:00:00.001">
              <Output>
                <ErrorInfo>
                  <Message>needs /dev/kvm, which this host does not have</Message>
                </ErrorInfo>
              </Output>
            </UnitTestResult>
            <UnitTestResult executionId="a3" testId="t3" testName="Demo.Tests.Breaks" outcome="Failed" duration="00:00:00.02">
              <Output>
                <ErrorInfo>
                  <Message>Assert.Equal() Failure: Values differ
        Expected: 1
        Actual:   2</Message>
                  <StackTrace>   at Demo.Tests.Breaks() in Tests.cs:line 12
           at System.RuntimeMethodHandle.InvokeMethod()</StackTrace>
                </ErrorInfo>
              </Output>
            </UnitTestResult>
            <UnitTestResult executionId="a4" testId="t4" testName="Demo.Tests.Counts" outcome="Passed" duration="00:00:00.01">
              <Output>
                <StdOut>KVM kind: Amd</StdOut>
              </Output>
            </UnitTestResult>
            <UnitTestResult executionId="a5" testId="t5" testName="Demo.Tests.Waits" outcome="NotExecuted" duration="00:00:00.001">
              <Output>
                <ErrorInfo>
                  <Message>not on Tuesdays</Message>
                </ErrorInfo>
              </Output>
            </UnitTestResult>
          </Results>
          <ResultSummary outcome="Completed">
            <Counters total="5" executed="5" passed="5" failed="0" error="0" timeout="0" aborted="0" inconclusive="0" passedButRunAborted="0" notRunnable="0" notExecuted="0" disconnected="0" warning="0" completed="0" inProgress="0" pending="0" />
          </ResultSummary>
        </TestRun>
        """;

    /// <summary>1 passed, 2 skipped for one reason, nothing failed; the Counters say 3 passed, 0 not executed.</summary>
    public const string LyingCounters = """
        <?xml version="1.0" encoding="utf-8"?>
        <TestRun id="2" name="fixture" xmlns="http://microsoft.com/schemas/VisualStudio/TeamTest/2010">
          <Results>
            <UnitTestResult executionId="b1" testId="u1" testName="Demo.Kvm.Runs" outcome="NotExecuted" duration="00:00:00.001">
              <Output>
                <ErrorInfo>
                  <Message>no /dev/kvm on this host</Message>
                </ErrorInfo>
              </Output>
            </UnitTestResult>
            <UnitTestResult executionId="b2" testId="u2" testName="Demo.Kvm.Maps" outcome="NotExecuted" duration="00:00:00.001">
              <Output>
                <ErrorInfo>
                  <Message>no /dev/kvm on this host</Message>
                </ErrorInfo>
              </Output>
            </UnitTestResult>
            <UnitTestResult executionId="b3" testId="u3" testName="Demo.Kvm.Parses" outcome="Passed" duration="00:00:00.01" />
          </Results>
          <ResultSummary outcome="Completed">
            <Counters total="3" executed="3" passed="3" failed="0" error="0" timeout="0" aborted="0" inconclusive="0" passedButRunAborted="0" notRunnable="0" notExecuted="0" disconnected="0" warning="0" completed="0" inProgress="0" pending="0" />
          </ResultSummary>
        </TestRun>
        """;

    /// <summary>A test host that crashed: 1 result came back, the Counters name an error for the rest.</summary>
    public const string CrashedHost = """
        <?xml version="1.0" encoding="utf-8"?>
        <TestRun id="3" name="fixture" xmlns="http://microsoft.com/schemas/VisualStudio/TeamTest/2010">
          <Results>
            <UnitTestResult executionId="c1" testId="v1" testName="Demo.Host.First" outcome="Passed" duration="00:00:00.01" />
          </Results>
          <ResultSummary outcome="Failed">
            <Counters total="4" executed="1" passed="1" failed="0" error="1" timeout="0" aborted="0" inconclusive="0" passedButRunAborted="0" notRunnable="0" notExecuted="0" disconnected="0" warning="0" completed="0" inProgress="0" pending="0" />
          </ResultSummary>
        </TestRun>
        """;

    /// <summary>A TRX with no result in it.</summary>
    public const string Empty = """
        <?xml version="1.0" encoding="utf-8"?>
        <TestRun id="4" name="fixture" xmlns="http://microsoft.com/schemas/VisualStudio/TeamTest/2010">
          <ResultSummary outcome="Completed">
            <Counters total="0" executed="0" passed="0" failed="0" error="0" timeout="0" aborted="0" inconclusive="0" passedButRunAborted="0" notRunnable="0" notExecuted="0" disconnected="0" warning="0" completed="0" inProgress="0" pending="0" />
          </ResultSummary>
        </TestRun>
        """;
}
