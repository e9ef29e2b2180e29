/**
 * The side panel's markup, made from its state (panelState.ts): a header, then the
 * summary and one row per code cell of the report, or why there is no report.
 *
 * A row shows the cell's index and first line, a role picker that writes the cell's
 * tags, what its section takes and gives, its problems, and the role nb2prod suggests
 * for untagged cells. The functions here read the state and build elements; what the
 * user does goes to `IPanelActions`.
 */
import { h } from './dom';
import { notOkView } from './doctor';
import { type IPanelState, type RoleChange, suggestion } from './panelState';
import { problemView } from './problems';
import type { ICellReport, ICheckReport, IProblem } from './schema';

const NO_ROLE = '';

/** What the panel's controls do. */
export interface IPanelActions {
  setRoles(changes: RoleChange[]): void;
  selectCell(index: number): void;
}

export function panelView(state: IPanelState, actions: IPanelActions): Node[] {
  return [
    h(
      'header',
      { class: 'jp-nb2prod-header' },
      h('h2', {}, 'nb2prod'),
      h('span', { class: 'jp-nb2prod-notebook' }, state.path ?? '')
    ),
    ...bodyView(state, actions)
  ];
}

function bodyView(state: IPanelState, actions: IPanelActions): Node[] {
  if (state.path === null) {
    return [h('p', { class: 'jp-nb2prod-empty' }, 'Open a notebook to see its cell roles.')];
  }
  if (state.noCode) {
    return [
      h('p', { class: 'jp-nb2prod-empty' }, 'No code yet: write cells, then give them roles here.')
    ];
  }
  if (state.failure) {
    const doctor = notOkView(state.doctor);
    return [
      h('p', { class: 'jp-nb2prod-failure', role: 'alert' }, state.failure),
      ...(doctor ? [doctor] : [])
    ];
  }
  if (!state.report) {
    return [h('p', { class: 'jp-nb2prod-empty' }, 'Checking…')];
  }
  return [
    summaryView(state.report, actions),
    h(
      'ol',
      { class: 'jp-nb2prod-cells', 'aria-label': 'code cells' },
      ...state.report.cells.map(cell => rowView(cell, state, actions))
    )
  ];
}

function summaryView(report: ICheckReport, actions: IPanelActions): HTMLElement {
  const blocking = report.problems.filter(p => p.severity === 'error').length;
  const warnings = report.problems.length - blocking;
  const pending = report.cells.filter(c => suggestion(c) !== null);
  const status = report.convertible
    ? `Ready to export · ${warnings} warning(s)`
    : `${blocking} problem(s) block export · ${warnings} warning(s)`;
  const applyAll = h(
    'button',
    {
      class: 'jp-nb2prod-button jp-nb2prod-apply-all',
      title: 'Tag every untagged cell with its suggested role'
    },
    `Apply all suggestions (${pending.length})`
  );
  applyAll.disabled = pending.length === 0;
  applyAll.addEventListener('click', () => {
    actions.setRoles(pending.map(cell => [cell.index, suggestion(cell)]));
  });
  const unplaced = report.problems.filter(p => p.cell === null);
  return h(
    'div',
    { class: 'jp-nb2prod-summary' },
    h(
      'p',
      { class: report.convertible ? 'jp-nb2prod-ok' : 'jp-nb2prod-blocked', role: 'status' },
      status
    ),
    ...unplaced.map(cellProblemView),
    applyAll
  );
}

function rowView(cell: ICellReport, state: IPanelState, actions: IPanelActions): HTMLElement {
  const highlight = state.highlights.find(item => item.index === cell.index);
  const classes = ['jp-nb2prod-row'];
  if (cell.problems.some(p => p.severity === 'error')) {
    classes.push('jp-nb2prod-row-error');
  }
  if (highlight) {
    classes.push('jp-nb2prod-row-highlight');
  }
  if (state.activeCell === cell.index) {
    classes.push('jp-nb2prod-row-active');
  }
  const row = h(
    'li',
    {
      class: classes.join(' '),
      tabindex: '0',
      'data-cell-index': String(cell.index),
      'aria-label': `cell ${cell.index}: ${cell.first_line}`
    },
    h('span', { class: 'jp-nb2prod-index' }, `[${cell.index}]`),
    h('code', { class: 'jp-nb2prod-first-line', title: cell.first_line }, cell.first_line),
    pickerView(cell, state.roles, actions),
    flowView(cell),
    suggestionView(cell, actions),
    highlight
      ? h('p', { class: 'jp-nb2prod-export-error', role: 'alert' }, highlight.message)
      : null,
    ...cell.problems.map(cellProblemView)
  );
  row.addEventListener('click', event => {
    if (!(event.target instanceof HTMLSelectElement || event.target instanceof HTMLButtonElement)) {
      actions.selectCell(cell.index);
    }
  });
  return row;
}

function pickerView(
  cell: ICellReport,
  roles: readonly string[],
  actions: IPanelActions
): HTMLElement {
  const select = h('select', {
    class: 'jp-nb2prod-role',
    'aria-label': `role of cell ${cell.index}`
  });
  const inherited = cell.role && !cell.declared ? ` (${cell.role})` : '';
  select.append(h('option', { value: NO_ROLE }, `no tag${inherited}`));
  for (const role of roles) {
    select.append(h('option', { value: role }, role));
  }
  select.value = cell.declared && cell.role ? cell.role : NO_ROLE;
  select.addEventListener('change', () => {
    actions.setRoles([[cell.index, select.value === NO_ROLE ? null : select.value]]);
  });
  return h('label', { class: 'jp-nb2prod-role-label' }, 'role ', select);
}

function flowView(cell: ICellReport): HTMLElement | null {
  if (!cell.inputs.length && !cell.outputs.length) {
    return null;
  }
  return h(
    'p',
    {
      class: 'jp-nb2prod-flow',
      title: 'what this cell takes from earlier sections → gives to later ones'
    },
    h('span', { class: 'jp-nb2prod-inputs' }, cell.inputs.join(', ') || '–'),
    ' → ',
    h('span', { class: 'jp-nb2prod-outputs' }, cell.outputs.join(', ') || '–')
  );
}

function suggestionView(cell: ICellReport, actions: IPanelActions): HTMLElement | null {
  const role = suggestion(cell);
  if (role === null) {
    return null;
  }
  const apply = h(
    'button',
    {
      class: 'jp-nb2prod-button jp-nb2prod-apply',
      'aria-label': `apply role ${role} to cell ${cell.index}`
    },
    'apply'
  );
  apply.addEventListener('click', () => actions.setRoles([[cell.index, role]]));
  return h(
    'p',
    { class: 'jp-nb2prod-suggestion' },
    'suggested: ',
    h('strong', {}, role),
    ' ',
    apply
  );
}

/** A problem in the panel: its row shows the cell's first line, the tooltip the fix. */
function cellProblemView(problem: IProblem): HTMLElement {
  return problemView(problem, { fixAsTitle: true });
}
