"""Users, workspaces, memberships, agents and plugins."""
