/**
 * A `log/` made after its service's supervisor started: that supervisor does not
 * carry it (it reads the service directory once, at start), and a supervisor
 * started on `log/` alone would read nothing, since the service's stdout goes to
 * the service's supervisor. Status and control messages name this case and say
 * what runs it: restarting the service's supervisor.
 *
 * @module
 */

import { basename, dirname } from "../path.ts";
import { resolveService, type ServicePaths } from "../service/paths.ts";
import { suggestCommand } from "../text/command.ts";
import { readStatusOrNull, runningSupervisor } from "./state.ts";
import type { ServiceStatus } from "./status.ts";

/**
 * The service whose `log/` is `paths`, when that service's supervisor runs and
 * does not carry it; else null. `supervised`: whether a supervisor holds `paths`'
 * own lock, when the caller has just looked (else it is looked at here).
 */
export function lateLogOf(paths: ServicePaths, supervised?: boolean): ServicePaths | null {
  const parent = logParentOf(paths);
  if (!parent || runningSupervisor(parent) === null) return null;
  return (supervised ?? runningSupervisor(paths) !== null) ? null : parent;
}

/**
 * The directory service whose `log/` service is `paths`, or null: such a log/ is
 * run by that service's supervisor, which feeds it; a supervisor of it alone
 * would read nothing.
 */
export function logParentOf(paths: ServicePaths): ServicePaths | null {
  if (paths.form !== "directory" || basename(paths.path) !== "log") return null;
  const parent = resolveService(dirname(paths.path));
  return parent.log?.path === paths.path ? parent : null;
}

/**
 * What runs a late `log/` of `service`: restarting that service's supervisor, as
 * commands (`opsd supervise --daemon` again for a supervisor started so, as
 * `record`, the service's status record, says; read here when not given).
 */
export function lateLogAdvice(
  service: ServicePaths,
  record: ServiceStatus | null = readStatusOrNull(service),
): string {
  const detached = record?.supervisor.detached ?? false;
  return `restart its supervisor (${suggestCommand("opsd", "exit", service.path)}, then ` +
    `${superviseAgainCommand(service.path, detached)}) to run it`;
}

/**
 * The command that supervises `service` (a path) again as its last supervisor
 * did: `opsd supervise --daemon` for one that ran detached.
 */
export function superviseAgainCommand(service: string, detached: boolean): string {
  return detached
    ? suggestCommand("opsd", "supervise", "--daemon", service)
    : suggestCommand("opsd", "supervise", service);
}
