"""What people look at: the HTML report, the dashboard spec and QuickSight."""
