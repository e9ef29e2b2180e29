/**
 * How a finding reads, wherever it is shown: a problem of the notebook (in the panel and
 * the export dialog) or a fact the server's Python lacks (the doctor's).
 *
 * A finding is a paragraph `jp-nb2prod-problem jp-nb2prod-<severity>`: a label (error,
 * warning, missing, note), where it is and what it says, then its fix. A problem about a
 * cell names it (`cell 4, line 2`); **Show cell** takes the user to the first such cell.
 */
import { h } from './dom';
import type { ICellRef, IProblem, Severity } from './schema';

/** One finding to show. */
export interface IFinding {
  /** The colour: an error blocks, a warning does not. */
  severity: Severity;
  /** The word in front: the severity, or the doctor's `missing` and `note`. */
  label: string;
  /** Where it is and what it says. */
  text: string;
  fix: string | null;
  attributes?: Record<string, string>;
}

export function findingView(finding: IFinding): HTMLElement {
  return h(
    'p',
    { class: `jp-nb2prod-problem jp-nb2prod-${finding.severity}`, ...finding.attributes },
    h('span', { class: 'jp-nb2prod-severity' }, finding.label),
    ` ${finding.text}`,
    finding.fix === null ? null : h('span', { class: 'jp-nb2prod-fix' }, `fix: ${finding.fix}`)
  );
}

/** `cell 4, line 2`: how a problem's place reads. */
export function describeCell(cell: Pick<ICellRef, 'index' | 'line'>): string {
  return cell.line === null ? `cell ${cell.index}` : `cell ${cell.index}, line ${cell.line}`;
}

export interface IProblemOptions {
  /** Name the cell's first line too (where no row of the panel shows it beside). */
  firstLine?: boolean;
  /** Repeat the fix as the tooltip (the panel's narrow rows may cut it). */
  fixAsTitle?: boolean;
}

export function problemView(problem: IProblem, options: IProblemOptions = {}): HTMLElement {
  const cell = problem.cell;
  const firstLine = cell && options.firstLine ? ` (${cell.first_line})` : '';
  const where = cell ? `${describeCell(cell)}${firstLine}: ` : '';
  return findingView({
    severity: problem.severity,
    label: problem.severity,
    text: `${where}${problem.message}`,
    fix: problem.fix,
    attributes: options.fixAsTitle ? { title: `fix: ${problem.fix}` } : {}
  });
}

/** **Show cell N**, for the first problem that names a cell; null when none does. */
export function showCellButton(problems: IProblem[], onShow: () => void): HTMLElement | null {
  const cell = problems.find(problem => problem.cell !== null)?.cell;
  if (!cell) {
    return null;
  }
  const button = h(
    'button',
    { class: 'jp-nb2prod-button jp-nb2prod-show-cell' },
    `Show ${describeCell(cell)}`
  );
  button.addEventListener('click', onShow);
  return button;
}
