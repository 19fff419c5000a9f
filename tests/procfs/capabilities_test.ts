import assert from "node:assert/strict";
import {
  CAP,
  effectiveCapabilities,
  hasEffectiveCapability,
  setgroupsDenied,
} from "../../lib/procfs/capabilities.ts";

Deno.test("hasEffectiveCapability reads CapEff: root has CAP_SYS_PTRACE unless it was dropped", async () => {
  if (Deno.uid() !== 0) {
    assert.equal(hasEffectiveCapability(CAP.SYS_PTRACE), false);
    return;
  }
  assert.equal(hasEffectiveCapability(CAP.SYS_PTRACE), true);
  // Asked of a set read once, as for several capabilities at a time.
  const effective = effectiveCapabilities();
  assert.equal(hasEffectiveCapability(CAP.SYS_PTRACE, effective), true);
  assert.equal(hasEffectiveCapability(CAP.SYS_PTRACE, effective & ~(1n << 19n)), false);
  const source = `import { CAP, hasEffectiveCapability } from "${
    new URL("../../lib/procfs/capabilities.ts", import.meta.url).href
  }"; console.log(hasEffectiveCapability(CAP.SYS_PTRACE));`;
  const run = await new Deno.Command("setpriv", {
    args: ["--bounding-set=-sys_ptrace", "--inh-caps=-sys_ptrace", Deno.execPath(), "eval", source],
  }).output();
  assert.equal(new TextDecoder().decode(run.stdout).trim(), "false", "dropped with setpriv");
});

Deno.test("setgroupsDenied: false for this process, true in a user namespace unshare -r made", async () => {
  assert.equal(setgroupsDenied(), false);
  const source = `import { setgroupsDenied } from "${
    new URL("../../lib/procfs/capabilities.ts", import.meta.url).href
  }"; console.log(setgroupsDenied());`;
  const run = await new Deno.Command("unshare", {
    args: ["--user", "--map-root-user", Deno.execPath(), "eval", source],
  }).output();
  assert.equal(new TextDecoder().decode(run.stdout).trim(), "true");
});
