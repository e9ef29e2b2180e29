/** The panel's and the Export button's icon: a notebook turning into a box. */
import { LabIcon } from '@jupyterlab/ui-components';

const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M4 3h9v2H6v14h7v2H4z"/>
    <path d="M8 8h4v2H8zm0 4h3v2H8z"/>
    <path d="M14 9l7 3-7 3 2-3z"/>
  </g>
</svg>`;

export const nb2prodIcon = new LabIcon({ name: 'nb2prod:icon', svgstr: svg });
