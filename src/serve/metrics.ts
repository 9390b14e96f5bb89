/** The counters `/metrics` reports, in the Prometheus text exposition format (version 0.0.4). */

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

export class ServeMetrics {
  private readonly requests = new Map<string, number>();
  private readonly buckets = new Map<string, number[]>();
  private readonly sums = new Map<string, number>();
  inFlight = 0;
  promptTokens = 0;
  generationTokens = 0;

  record(endpoint: string, status: number, seconds: number): void {
    const key = `${endpoint}\u0000${status}`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
    const b = this.buckets.get(endpoint) ?? new Array<number>(BUCKETS.length + 1).fill(0);
    const i = BUCKETS.findIndex((le) => seconds <= le);
    b[i === -1 ? BUCKETS.length : i]++;
    this.buckets.set(endpoint, b);
    this.sums.set(endpoint, (this.sums.get(endpoint) ?? 0) + seconds);
  }

  render(): string {
    const lines: string[] = [];
    lines.push("# HELP tokensqueeze_requests_total HTTP requests answered, by endpoint and status.", "# TYPE tokensqueeze_requests_total counter");
    for (const [key, n] of [...this.requests].sort()) {
      const [endpoint, status] = key.split("\u0000");
      lines.push(`tokensqueeze_requests_total{endpoint=${label(endpoint)},status="${status}"} ${n}`);
    }
    lines.push("# HELP tokensqueeze_request_duration_seconds Time to answer a request.", "# TYPE tokensqueeze_request_duration_seconds histogram");
    for (const [endpoint, counts] of [...this.buckets].sort()) {
      let cumulative = 0;
      BUCKETS.forEach((le, i) => {
        cumulative += counts[i];
        lines.push(`tokensqueeze_request_duration_seconds_bucket{endpoint=${label(endpoint)},le="${le}"} ${cumulative}`);
      });
      cumulative += counts[BUCKETS.length];
      lines.push(`tokensqueeze_request_duration_seconds_bucket{endpoint=${label(endpoint)},le="+Inf"} ${cumulative}`);
      lines.push(`tokensqueeze_request_duration_seconds_sum{endpoint=${label(endpoint)}} ${this.sums.get(endpoint) ?? 0}`);
      lines.push(`tokensqueeze_request_duration_seconds_count{endpoint=${label(endpoint)}} ${cumulative}`);
    }
    lines.push("# HELP tokensqueeze_requests_in_flight Requests being answered now (other than /metrics and /health).", "# TYPE tokensqueeze_requests_in_flight gauge", `tokensqueeze_requests_in_flight ${this.inFlight}`);
    lines.push("# HELP tokensqueeze_prompt_tokens_total Prompt tokens processed.", "# TYPE tokensqueeze_prompt_tokens_total counter", `tokensqueeze_prompt_tokens_total ${this.promptTokens}`);
    lines.push("# HELP tokensqueeze_generation_tokens_total Tokens generated.", "# TYPE tokensqueeze_generation_tokens_total counter", `tokensqueeze_generation_tokens_total ${this.generationTokens}`);
    return lines.join("\n") + "\n";
  }
}

function label(v: string): string {
  return JSON.stringify(v);
}
