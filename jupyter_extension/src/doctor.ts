/**
 * What the server's Python lacks, when Export (or the check) cannot run.
 *
 * The facts are `nb2prod doctor --json`'s (GET /nb2prod/doctor): this module
 * only picks those that are not ok (checks, and the imports the kept cells
 * need) and shows each with its fix, as the CLI prints them.
 */
import * as api from './api';
import { h } from './dom';
import { findingView } from './problems';
import type { DoctorStatus, IDiagnosis } from './schema';

/** One fact to show: a check, or a module the notebook imports. */
interface IFact {
  name: string;
  status: DoctorStatus;
  detail: string;
  fix: string | null;
}

/** The facts that are not ok, and the Python they are about. */
export interface INotOk {
  python: string;
  facts: IFact[];
}

/** The facts that are not ok, for the notebook at `path` (or the server alone). */
export async function notOk(path?: string): Promise<INotOk | null> {
  let diagnosis: IDiagnosis;
  try {
    diagnosis = await api.doctor(path);
  } catch {
    try {
      diagnosis = await api.doctor(); // the notebook could not be read: the server alone
    } catch {
      return null; // no doctor either (the server extension is not there): nothing to add
    }
  }
  const checks = diagnosis.checks.filter(check => check.status !== 'ok');
  const imports = (diagnosis.imports ?? [])
    .filter(fact => fact.needed && fact.status !== 'ok')
    .map(fact => ({ ...fact, name: `import ${fact.module}` }));
  return { python: diagnosis.python, facts: [...checks, ...imports] };
}

/** The view of `notOk`, or null when everything is ok or the doctor cannot answer. */
export async function doctorView(path?: string): Promise<HTMLElement | null> {
  return notOkView(await notOk(path));
}

export function notOkView(found: INotOk | null): HTMLElement | null {
  if (found === null || found.facts.length === 0) {
    return null;
  }
  return h(
    'div',
    { class: 'jp-nb2prod-doctor', 'aria-label': 'nb2prod doctor' },
    h('p', {}, `What the server's Python (${found.python}) lacks (nb2prod doctor):`),
    ...found.facts.map(factView)
  );
}

function factView(fact: IFact): HTMLElement {
  const missing = fact.status === 'missing';
  return findingView({
    severity: missing ? 'error' : 'warning',
    label: missing ? 'missing' : 'note',
    text: `${fact.name}: ${fact.detail}`,
    fix: fact.fix,
    attributes: { 'data-doctor': fact.name }
  });
}
